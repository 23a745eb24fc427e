package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/alecthomas/kong"
)

// CompletionCmd is `bootc completion SHELL`.
type CompletionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"Shell to write the completion script for: bash, zsh or fish."`
}

// Run writes a completion script generated from the command-line model, so that it
// names exactly the verbs, flags and enum values bootc parses. Install it with, e.g.,
// `bootc completion bash > /etc/bash_completion.d/bootc`, `bootc completion zsh >
// "${fpath[1]}/_bootc"` or `bootc completion fish > ~/.config/fish/completions/bootc.fish`.
func (c *CompletionCmd) Run(kctx *kong.Context, d *Deps) error {
	nodes := completionNodes(kctx.Model.Node)
	switch c.Shell {
	case "bash":
		writeBashCompletion(d.Out, nodes)
	case "zsh":
		writeZshCompletion(d.Out, nodes)
	case "fish":
		writeFishCompletion(d.Out, nodes)
	default:
		return fmt.Errorf("no completion for shell %q (bash, zsh or fish)", c.Shell)
	}
	return nil
}

// compFlag is one visible flag as completion offers it.
type compFlag struct {
	long, short, help string
	takesValue        bool
	enum              []string
}

// compNode is one command (the root is path "") with what completes after it.
type compNode struct {
	path     string            // canonical command path, words joined by spaces
	children map[string]string // child name or alias -> child's path
	flags    []compFlag        // own and inherited visible flags
	args     []string          // values of enum positional arguments
}

// completionNodes walks the visible commands of the model, root first.
func completionNodes(root *kong.Node) []*compNode {
	var out []*compNode
	var visit func(n *kong.Node, path string, inherited []compFlag)
	visit = func(n *kong.Node, path string, inherited []compFlag) {
		cn := &compNode{path: path, children: map[string]string{}, flags: append([]compFlag(nil), inherited...)}
		for _, f := range n.Flags {
			if f.Hidden {
				continue
			}
			cf := compFlag{long: "--" + f.Name, help: firstLine(f.Help), takesValue: !f.IsBool() && !f.IsCounter()}
			if f.Short != 0 {
				cf.short = "-" + string(f.Short)
			}
			if f.Enum != "" {
				for _, v := range strings.Split(f.Enum, ",") {
					if v = strings.TrimSpace(v); v != "" {
						cf.enum = append(cf.enum, v)
					}
				}
			}
			cn.flags = append(cn.flags, cf)
		}
		for _, p := range n.Positional {
			for _, v := range strings.Split(p.Enum, ",") {
				if v = strings.TrimSpace(v); v != "" {
					cn.args = append(cn.args, v)
				}
			}
		}
		out = append(out, cn)
		for _, ch := range n.Children {
			if ch.Hidden || ch.Type != kong.CommandNode {
				continue
			}
			chPath := strings.TrimSpace(path + " " + ch.Name)
			cn.children[ch.Name] = chPath
			for _, a := range ch.Aliases {
				cn.children[a] = chPath
			}
			visit(ch, chPath, cn.flags)
		}
	}
	visit(root, "", nil)
	return out
}

// firstLine is the first sentence of a help text, for shells that show descriptions.
func firstLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i > 0 {
		s = s[:i+1]
	}
	return s
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// words are the child commands, enum argument values and flags offered after the
// command.
func (n *compNode) words() []string {
	w := append([]string(nil), n.args...)
	for _, k := range sortedKeys(n.children) {
		if n.children[k] == strings.TrimSpace(n.path+" "+k) { // names, not aliases
			w = append(w, k)
		}
	}
	for _, f := range n.flags {
		w = append(w, f.long)
		if f.short != "" {
			w = append(w, f.short)
		}
	}
	return w
}

// writeShHelpers writes the shell functions bash and zsh share (plain POSIX case
// statements): _bootc_child PATH WORD prints the command path WORD leads to from PATH,
// _bootc_takes_value PATH FLAG succeeds when FLAG takes a value, _bootc_enum PATH FLAG
// prints FLAG's values, _bootc_words PATH prints what completes after PATH.
func writeShHelpers(w io.Writer, nodes []*compNode) {
	fmt.Fprintln(w, "_bootc_child() {\n  case \"$1|$2\" in")
	for _, n := range nodes {
		for _, k := range sortedKeys(n.children) {
			fmt.Fprintf(w, "    %q) echo %q ;;\n", n.path+"|"+k, n.children[k])
		}
	}
	fmt.Fprintln(w, "  esac\n}")
	fmt.Fprintln(w, "_bootc_takes_value() {\n  case \"$1|$2\" in")
	for _, n := range nodes {
		for _, f := range n.flags {
			if !f.takesValue {
				continue
			}
			fmt.Fprintf(w, "    %q) return 0 ;;\n", n.path+"|"+f.long)
			if f.short != "" {
				fmt.Fprintf(w, "    %q) return 0 ;;\n", n.path+"|"+f.short)
			}
		}
	}
	fmt.Fprintln(w, "  esac\n  return 1\n}")
	fmt.Fprintln(w, "_bootc_enum() {\n  case \"$1|$2\" in")
	for _, n := range nodes {
		for _, f := range n.flags {
			if len(f.enum) > 0 {
				fmt.Fprintf(w, "    %q) echo %q ;;\n", n.path+"|"+f.long, strings.Join(f.enum, " "))
			}
		}
	}
	fmt.Fprintln(w, "  esac\n}")
	fmt.Fprintln(w, "_bootc_words() {\n  case \"$1\" in")
	for _, n := range nodes {
		fmt.Fprintf(w, "    %q) echo %q ;;\n", n.path, strings.Join(n.words(), " "))
	}
	fmt.Fprintln(w, "  esac\n}")
}

// shPathLoop is the loop bash and zsh use to find the command path from the words
// before the cursor (array WORDS, indexes FIRST up to but excluding LAST).
const shPathLoop = `  local cmdpath="" skip=0 i w next
  for ((i=%s; i<%s; i++)); do
    w=${%s[i]}
    if [ "$skip" = 1 ]; then skip=0; continue; fi
    case "$w" in
      --*=*) continue ;;
      -*) if _bootc_takes_value "$cmdpath" "$w"; then skip=1; fi; continue ;;
    esac
    next=$(_bootc_child "$cmdpath" "$w")
    if [ -n "$next" ]; then cmdpath=$next; fi
  done
`

// writeBashCompletion writes the bash script.
func writeBashCompletion(w io.Writer, nodes []*compNode) {
	fmt.Fprintln(w, "# bash completion for bootc (generated by `bootc completion bash`)")
	writeShHelpers(w, nodes)
	fmt.Fprintln(w, "_bootc() {")
	fmt.Fprintf(w, shPathLoop, "1", "COMP_CWORD", "COMP_WORDS")
	fmt.Fprint(w, `  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} vals
  if [[ $cur == --*=* ]]; then
    vals=$(_bootc_enum "$cmdpath" "${cur%%=*}")
    if [ -n "$vals" ]; then
      COMPREPLY=($(compgen -P "${cur%%=*}=" -W "$vals" -- "${cur#*=}"))
    else
      COMPREPLY=($(compgen -P "${cur%%=*}=" -f -- "${cur#*=}"))
    fi
    return
  fi
  if _bootc_takes_value "$cmdpath" "$prev"; then
    vals=$(_bootc_enum "$cmdpath" "$prev")
    if [ -n "$vals" ]; then
      COMPREPLY=($(compgen -W "$vals" -- "$cur"))
    else
      COMPREPLY=($(compgen -f -- "$cur"))
    fi
    return
  fi
  COMPREPLY=($(compgen -W "$(_bootc_words "$cmdpath")" -- "$cur"))
  if [ ${#COMPREPLY[@]} -eq 0 ] && [[ $cur != -* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _bootc bootc
`)
}

// writeZshCompletion writes the zsh script (a #compdef function file, which also works
// when sourced).
func writeZshCompletion(w io.Writer, nodes []*compNode) {
	fmt.Fprintln(w, "#compdef bootc\n# zsh completion for bootc (generated by `bootc completion zsh`)")
	writeShHelpers(w, nodes)
	fmt.Fprintln(w, "_bootc() {")
	fmt.Fprintf(w, shPathLoop, "2", "CURRENT", "words")
	fmt.Fprint(w, `  local cur=${words[CURRENT]} prev=${words[CURRENT-1]} vals
  if _bootc_takes_value "$cmdpath" "$prev"; then
    vals=$(_bootc_enum "$cmdpath" "$prev")
    if [ -n "$vals" ]; then compadd -- ${=vals}; else _files; fi
    return
  fi
  if [[ $cur == -* ]]; then
    compadd -- ${=$(_bootc_words "$cmdpath")}
  else
    local all=(${=$(_bootc_words "$cmdpath")})
    local cmds=(${all:#-*})
    if [ ${#cmds} -gt 0 ]; then compadd -- $cmds; else _files; fi
  fi
}
if [ "$funcstack[1]" = "_bootc" ]; then
  _bootc "$@"
else
  compdef _bootc bootc
fi
`)
}

// fishQuote quotes s for fish (single quotes; backslash and quote escaped).
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// writeFishCompletion writes the fish script.
func writeFishCompletion(w io.Writer, nodes []*compNode) {
	fmt.Fprintln(w, "# fish completion for bootc (generated by `bootc completion fish`)")
	fmt.Fprintln(w, "function __bootc_takes_value\n    switch \"$argv[1]|$argv[2]\"")
	for _, n := range nodes {
		for _, f := range n.flags {
			if f.takesValue {
				fmt.Fprintf(w, "        case %s\n            return 0\n", fishQuote(n.path+"|"+f.long))
				if f.short != "" {
					fmt.Fprintf(w, "        case %s\n            return 0\n", fishQuote(n.path+"|"+f.short))
				}
			}
		}
	}
	fmt.Fprintln(w, "    end\n    return 1\nend")
	fmt.Fprintln(w, "function __bootc_child\n    switch \"$argv[1]|$argv[2]\"")
	for _, n := range nodes {
		for _, k := range sortedKeys(n.children) {
			fmt.Fprintf(w, "        case %s\n            echo %s\n", fishQuote(n.path+"|"+k), fishQuote(n.children[k]))
		}
	}
	fmt.Fprintln(w, "    end\nend")
	fmt.Fprint(w, `function __bootc_path
    set -l cmdpath ''
    set -l skip 0
    for w in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case '--*=*'
                continue
            case '-*'
                if __bootc_takes_value "$cmdpath" $w
                    set skip 1
                end
                continue
        end
        set -l next (__bootc_child "$cmdpath" $w)
        if test -n "$next"
            set cmdpath $next
        end
    end
    echo $cmdpath
end
complete -c bootc -e
`)
	for _, n := range nodes {
		cond := fishQuote(fmt.Sprintf("test (__bootc_path) = %s", fishQuote(n.path)))
		for _, k := range sortedKeys(n.children) {
			if n.children[k] == strings.TrimSpace(n.path+" "+k) {
				fmt.Fprintf(w, "complete -c bootc -f -n %s -a %s\n", cond, fishQuote(k))
			}
		}
		if len(n.args) > 0 {
			fmt.Fprintf(w, "complete -c bootc -f -n %s -a %s\n", cond, fishQuote(strings.Join(n.args, " ")))
		}
		for _, f := range n.flags {
			line := fmt.Sprintf("complete -c bootc -n %s -l %s", cond, strings.TrimPrefix(f.long, "--"))
			if f.short != "" {
				line += " -s " + strings.TrimPrefix(f.short, "-")
			}
			switch {
			case len(f.enum) > 0:
				line += " -x -a " + fishQuote(strings.Join(f.enum, " "))
			case f.takesValue:
				line += " -r"
			}
			if f.help != "" {
				line += " -d " + fishQuote(f.help)
			}
			fmt.Fprintln(w, line)
		}
	}
}
