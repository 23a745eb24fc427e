// Package lint implements the static checks of `bootc container lint`: the same lints,
// names, fatal/warning split and output as upstream bootc's (crates/lib/src/lints.rs).
//
// Every check reads the image's root directory through an [os.Root], so a symbolic link
// in the image (absolute or with "..") is resolved inside that root and never reaches the
// build host's files. Walks do not cross mount points, as upstream's do not: /proc, /sys
// and the files a container runtime bind-mounts into a `RUN` step are not the image's.
package lint

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/bootc-go/bootc/internal/kargs"
)

// Severity says whether a failing lint fails the check.
type Severity int

const (
	// Fatal lints fail `bootc container lint`: the image will not install or is
	// effectively guaranteed to fail at runtime.
	Fatal Severity = iota
	// Warning lints report something that is likely wanted fixed; they fail the check
	// only with --fatal-warnings.
	Warning
)

// String is upstream's spelling of the severity ("fatal", "warning").
func (s Severity) String() string {
	if s == Fatal {
		return "fatal"
	}
	return "warning"
}

// RootType is the kind of root a lint applies to.
type RootType int

const (
	// AnyRoot lints apply to every root.
	AnyRoot RootType = iota
	// Running lints apply only to the running root (--rootfs /, as in a Containerfile
	// RUN step).
	Running
	// Alternative lints apply only to a root other than the running one.
	Alternative
)

// String is upstream's serialization of the root type ("Running", "Alternative"; ""
// for AnyRoot).
func (r RootType) String() string {
	switch r {
	case Running:
		return "Running"
	case Alternative:
		return "Alternative"
	}
	return ""
}

// maxItems is how many entries a lint message lists before "...and N more" (upstream's
// DEFAULT_TRUNCATED_OUTPUT).
const maxItems = 5

// Lint is one named check.
type Lint struct {
	// Name is the lint's name, as --skip and --list spell it.
	Name string
	// Severity is whether a failure is fatal or a warning.
	Severity Severity
	// Description says what the lint checks.
	Description string
	// Root restricts the lint to one kind of root (AnyRoot: every root).
	Root RootType
	// check returns "" when the lint passes, else the problem; err is an unexpected
	// failure (an unreadable file).
	check func(c *checker) (problem string, err error)
	// recursive lints look at every entry of the tree, in one shared walk.
	recursive func(c *checker, e *entry) (problem string, err error)
}

// All returns every lint, sorted by name.
func All() []Lint {
	out := slices.Clone(lints)
	slices.SortFunc(out, func(a, b Lint) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Options tune Run.
type Options struct {
	// Running says the root is the running system's (upstream: --rootfs is "/"): lints
	// for alternative roots are skipped, lints for the running root run.
	Running bool
	// Skip names lints not to run.
	Skip []string
	// FatalWarnings makes warnings fail the check.
	FatalWarnings bool
	// NoTruncate lists every entry of a lint's message, not the first five.
	NoTruncate bool
	// Arch is the architecture kargs.d's match-architectures is compared with (Rust
	// spelling); "" means this binary's ([kargs.Arch]).
	Arch string
}

// Result counts the outcome of Run.
type Result struct {
	// Passed, Skipped, Warnings and Fatal count the lints by outcome.
	Passed, Skipped, Warnings, Fatal int
}

// FailedError is Run's error when lints failed; it prints as upstream's
// "Linting: Checks failed: N".
type FailedError struct {
	// Failed is the number of failures that count (fatal ones, plus warnings with
	// FatalWarnings).
	Failed int
}

// Error implements error.
func (e *FailedError) Error() string {
	return fmt.Sprintf("Linting: Checks failed: %d", e.Failed)
}

// Run runs the lints on the tree at rootfs and writes upstream's report to w: one line
// "Failed lint: NAME: MSG" or "Lint warning: NAME: MSG" per failure, then "Checks passed:
// N", "Checks skipped: N" (when some were) and "Warnings: N" (when there were any). It
// returns a *FailedError when fatal lints (or, with FatalWarnings, any lints) failed, and
// another error when the tree cannot be read.
func Run(rootfs string, opts Options, w io.Writer) (Result, error) {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return Result{}, fmt.Errorf("linting: opening root %s: %w", rootfs, err)
	}
	defer root.Close()
	return RunRoot(root, opts, w)
}

// RunRoot is Run on an open root.
func RunRoot(root *os.Root, opts Options, w io.Writer) (Result, error) {
	c := &checker{root: root, opts: opts}
	if c.opts.Arch == "" {
		c.opts.Arch = kargs.Arch
	}
	var res Result
	var regular, recursive []Lint
	for _, l := range All() {
		switch {
		case slices.Contains(opts.Skip, l.Name),
			l.Root == Running && !opts.Running,
			l.Root == Alternative && opts.Running:
			res.Skipped++
		case l.recursive != nil:
			recursive = append(recursive, l)
		default:
			regular = append(regular, l)
		}
	}
	type outcome struct {
		lint    Lint
		problem string
	}
	var outcomes []outcome
	for _, l := range regular {
		problem, err := l.check(c)
		if err != nil {
			return res, fmt.Errorf("linting: unexpected runtime error running lint %s: %w", l.Name, err)
		}
		outcomes = append(outcomes, outcome{l, problem})
	}
	if len(recursive) > 0 {
		found := make([]string, len(recursive))
		pending := len(recursive)
		err := walk(root, ".", func(e *entry) error {
			for i, l := range recursive {
				if found[i] != "" {
					continue
				}
				problem, err := l.recursive(c, e)
				if err != nil {
					return fmt.Errorf("unexpected runtime error running lint %s: %w", l.Name, err)
				}
				if problem != "" {
					found[i] = problem
					pending--
				}
			}
			if pending == 0 {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return res, fmt.Errorf("linting: %w", err)
		}
		for i, l := range recursive {
			outcomes = append(outcomes, outcome{l, found[i]})
		}
	}
	for _, o := range outcomes {
		switch {
		case o.problem == "":
			res.Passed++
		case o.lint.Severity == Fatal:
			fmt.Fprintf(w, "Failed lint: %s: %s\n", o.lint.Name, o.problem)
			res.Fatal++
		default:
			fmt.Fprintf(w, "Lint warning: %s: %s\n", o.lint.Name, o.problem)
			res.Warnings++
		}
	}
	fmt.Fprintf(w, "Checks passed: %d\n", res.Passed)
	if res.Skipped > 0 {
		fmt.Fprintf(w, "Checks skipped: %d\n", res.Skipped)
	}
	if res.Warnings > 0 {
		fmt.Fprintf(w, "Warnings: %d\n", res.Warnings)
	}
	failed := res.Fatal
	if opts.FatalWarnings {
		failed += res.Warnings
	}
	if failed > 0 {
		return res, &FailedError{Failed: failed}
	}
	return res, nil
}

// listEntry is one lint as --list prints it (upstream's serialization).
type listEntry struct {
	Name        string `yaml:"name"`
	Type        string `yaml:"type"`
	Description string `yaml:"description"`
	RootType    string `yaml:"root-type,omitempty"`
}

// List writes every lint as a YAML sequence (name, type, description and, for lints
// restricted to one kind of root, root-type), as upstream's --list does. Upstream makes
// no promise about this format; neither do we.
func List(w io.Writer) error {
	var entries []listEntry
	for _, l := range All() {
		entries = append(entries, listEntry{Name: l.Name, Type: l.Severity.String(),
			Description: l.Description, RootType: l.Root.String()})
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(entries); err != nil {
		return fmt.Errorf("writing the lint list: %w", err)
	}
	return enc.Close()
}

// checker is what the checks share: the root and the options.
type checker struct {
	root *os.Root
	opts Options
}

// items formats a header and a list of entries as upstream's lint messages do: "HEADER:"
// then one indented entry per line, the first five only unless NoTruncate, then
// "...and N more". It returns "" for an empty list.
func (c *checker) items(header string, list []string) string {
	if len(list) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(header + ":\n")
	shown := list
	if !c.opts.NoTruncate && len(list) > maxItems {
		shown = list[:maxItems]
	}
	for _, it := range shown {
		b.WriteString("  " + it + "\n")
	}
	if len(shown) < len(list) {
		fmt.Fprintf(&b, "  ...and %d more\n", len(list)-len(shown))
	}
	return b.String()
}

// quotePath prints a path as a POSIX shell would read it back: as it is when it holds
// only characters safe in a shell word, else single-quoted (upstream's PathQuotedDisplay).
func quotePath(p string) string {
	safe := utf8.ValidString(p) && p != ""
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./,:+@%=^", r)) {
			safe = false
			break
		}
	}
	if safe {
		return p
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}

// debugQuote prints a file name the way Rust's Debug does for an OsStr: double-quoted,
// invalid UTF-8 bytes as \xNN.
func debugQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02X`, s[0])
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u{%x}`, r)
		default:
			b.WriteRune(r)
		}
		s = s[n:]
	}
	b.WriteByte('"')
	return b.String()
}
