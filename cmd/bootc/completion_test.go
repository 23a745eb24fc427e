package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// modelEntry is one visible command of the kong model with what must complete after it.
type modelEntry struct {
	path    []string // command words from the root
	words   []string // child command names, flags (long and short), enum values
	aliases []string // child command aliases (recognized, not offered)
}

// modelEntries walks the kong model directly (not through the completion generator).
func modelEntries(t *testing.T) []modelEntry {
	t.Helper()
	var cli CLI
	parser, err := kong.New(&cli, kong.Name("bootc"), kong.Vars{"version": "test"})
	if err != nil {
		t.Fatal(err)
	}
	var out []modelEntry
	var walk func(n *kong.Node, path []string, inherited []string)
	walk = func(n *kong.Node, path []string, inherited []string) {
		e := modelEntry{path: path, words: append([]string(nil), inherited...)}
		for _, f := range n.Flags {
			if f.Hidden {
				continue
			}
			e.words = append(e.words, "--"+f.Name)
			if f.Short != 0 {
				e.words = append(e.words, "-"+string(f.Short))
			}
		}
		own := e.words
		for _, p := range n.Positional {
			if p.Enum != "" {
				e.words = append(e.words, strings.Split(p.Enum, ",")...)
			}
		}
		for _, ch := range n.Children {
			if ch.Hidden || ch.Type != kong.CommandNode {
				continue
			}
			e.words = append(e.words, ch.Name)
			e.aliases = append(e.aliases, ch.Aliases...)
			walk(ch, append(append([]string(nil), path...), ch.Name), own)
		}
		out = append(out, e)
	}
	walk(parser.Model.Node, nil, nil)
	return out
}

// TestCompletionCoversModel checks that the completion script of each shell names every
// visible verb, alias, flag and enum value of the command line, so it cannot drift from
// it; the container verbs and upgrade --format (added with it) are among them.
func TestCompletionCoversModel(t *testing.T) {
	entries := modelEntries(t)
	if len(entries) < 10 {
		t.Fatalf("model walk found only %d commands", len(entries))
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, out, errs := bootc(t, "completion", shell)
		if code != 0 || errs != "" {
			t.Fatalf("completion %s: exit %d, %s", shell, code, errs)
		}
		for _, e := range entries {
			p := strings.Join(e.path, " ")
			if p != "" && !strings.Contains(out, p) {
				t.Errorf("%s: command %q missing", shell, p)
			}
			for _, w := range append(append([]string(nil), e.words...), e.aliases...) {
				name := w
				if shell == "fish" && strings.HasPrefix(w, "--") {
					name = "-l " + strings.TrimPrefix(w, "--")
				} else if shell == "fish" && strings.HasPrefix(w, "-") {
					name = "-s " + strings.TrimPrefix(w, "-")
				}
				if !strings.Contains(out, name) {
					t.Errorf("%s: after %q, %q missing", shell, p, name)
				}
			}
		}
		for _, must := range []string{"container lint", "fatal-warnings", "humanreadable json"} {
			if !strings.Contains(out, must) {
				t.Errorf("%s: %q missing", shell, must)
			}
		}
	}
	if code, _, errs := bootc(t, "completion", "tcsh"); code == 0 || !strings.Contains(errs, "tcsh") {
		t.Errorf("completion tcsh: exit %d, %q; want a usage error", code, errs)
	}
}

// TestBashCompletion sources the bash script and completes after every command (with a
// global flag and its value first, which must be skipped): each child command (by name;
// aliases are recognized, not offered) and flag of the model is offered, and an alias
// leads to its command's flags; a flag's enum values complete after it.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("needs bash: %v", err)
	}
	_, script, _ := bootc(t, "completion", "bash")
	dir := t.TempDir()
	scriptPath := filepath.Join(dir, "bootc.bash")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	var driver strings.Builder
	fmt.Fprintf(&driver, "set -e\nsource %q\n", scriptPath)
	complete := func(words ...string) {
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = fmt.Sprintf("%q", w)
		}
		fmt.Fprintf(&driver, "COMP_WORDS=(bootc %s); COMP_CWORD=%d; COMPREPLY=(); _bootc; echo \"%s => ${COMPREPLY[*]}\"\n",
			strings.Join(quoted, " "), len(words), strings.Join(words, " "))
	}
	entries := modelEntries(t)
	for _, e := range entries {
		complete(append(append([]string{"--log-level", "debug"}, e.path...), "")...)
	}
	complete("upgrade", "--format", "")
	complete("update", "--format=j")
	complete("completion", "f")
	complete("update", "--che")
	out, err := exec.Command(bash, "-c", driver.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	results := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, " => ")
		results[k] = strings.Fields(v)
	}
	has := func(got []string, w string) bool {
		for _, g := range got {
			if g == w {
				return true
			}
		}
		return false
	}
	for _, e := range entries {
		key := strings.Join(append([]string{"--log-level", "debug"}, e.path...), " ") + " "
		got := results[key]
		for _, w := range e.words {
			if !has(got, w) {
				t.Errorf("completing %q: %q not offered (got %v)", key, w, got)
			}
		}
	}
	for key, want := range map[string][]string{
		"upgrade --format ": {"humanreadable", "json"},
		"update --format=j": {"--format=json"},
		"completion f":      {"fish"},
		"update --che":      {"--check"},
	} {
		if got := results[key]; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("completing %q: got %v, want %v", key, got, want)
		}
	}
}
