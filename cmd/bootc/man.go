package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/alecthomas/kong"
)

// ManCmd is `bootc man DIR` (hidden; `make man` runs it): the manual pages, generated from
// the command-line model so that they name exactly the verbs and flags bootc parses.
type ManCmd struct {
	Dir string `arg:"" type:"path" help:"Directory to write bootc.8 and one bootc-VERB.8 per verb into."`
}

// Run writes the pages.
func (c *ManCmd) Run(kctx *kong.Context, d *Deps) error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	pages := manPages(kctx.Model.Node)
	for _, p := range pages {
		if err := os.WriteFile(filepath.Join(c.Dir, p.file), []byte(p.text), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(d.Out, "Wrote %d manual pages to %s\n", len(pages), c.Dir)
	return nil
}

// manPage is one generated page.
type manPage struct {
	file, text string
}

// manPages renders bootc(8) and a page for every visible command below it (verbs with
// subcommands, such as install, get a page listing them, and each subcommand its own).
func manPages(root *kong.Node) []manPage {
	var pages []manPage
	var visit func(n *kong.Node, words []string, inherited []*kong.Flag)
	visit = func(n *kong.Node, words []string, inherited []*kong.Flag) {
		name := strings.Join(words, "-")
		var b strings.Builder
		fmt.Fprintf(&b, ".TH %s 8 \"\" \"bootc %s\" \"System Administration\"\n", strings.ToUpper(roff(name)), roff(version))
		fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", roff(name), roff(firstLine(n.Help)))
		fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n", roff(strings.Join(words, " ")))
		subs := visibleChildren(n)
		switch {
		case len(subs) > 0:
			b.WriteString("\\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n")
		default:
			b.WriteString("[\\fIOPTIONS\\fR]")
			for _, p := range n.Positional {
				fmt.Fprintf(&b, " \\fI%s\\fR", roff(strings.ToUpper(p.Name)))
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, ".SH DESCRIPTION\n%s\n", roff(oneParagraph(n.Help)))
		if len(n.Aliases) > 0 {
			fmt.Fprintf(&b, ".PP\nAlso spelled: %s.\n", roff(strings.Join(n.Aliases, ", ")))
		}
		if len(n.Positional) > 0 {
			b.WriteString(".SH ARGUMENTS\n")
			for _, p := range n.Positional {
				fmt.Fprintf(&b, ".TP\n\\fI%s\\fR\n%s\n", roff(strings.ToUpper(p.Name)), roff(oneParagraph(p.Help)))
			}
		}
		if len(subs) > 0 {
			b.WriteString(".SH COMMANDS\n")
			for _, ch := range subs {
				fmt.Fprintf(&b, ".TP\n\\fB%s\\fR\n%s See \\fB%s\\fR(8).\n", roff(ch.Name), roff(oneParagraph(ch.Help)),
					roff(strings.Join(append(append([]string{}, words...), ch.Name), "-")))
			}
		}
		var own []*kong.Flag
		for _, f := range n.Flags {
			if !f.Hidden {
				own = append(own, f)
			}
		}
		writeManFlags(&b, "OPTIONS", own)
		writeManFlags(&b, "GLOBAL OPTIONS", inherited)
		if len(words) > 1 {
			b.WriteString(".SH SEE ALSO\n\\fBbootc\\fR(8)\n")
		}
		pages = append(pages, manPage{file: name + ".8", text: b.String()})
		for _, ch := range subs {
			visit(ch, append(append([]string{}, words...), ch.Name), append(append([]*kong.Flag{}, inherited...), own...))
		}
	}
	if root.Help == "" {
		root.Help = rootHelp
	}
	visit(root, []string{"bootc"}, nil)
	return pages
}

// visibleChildren are n's visible subcommands.
func visibleChildren(n *kong.Node) []*kong.Node {
	var out []*kong.Node
	for _, ch := range n.Children {
		if !ch.Hidden && ch.Type == kong.CommandNode {
			out = append(out, ch)
		}
	}
	return out
}

// writeManFlags writes a section listing flags (none: no section).
func writeManFlags(b *strings.Builder, section string, flags []*kong.Flag) {
	if len(flags) == 0 {
		return
	}
	fmt.Fprintf(b, ".SH %s\n", section)
	for _, f := range flags {
		b.WriteString(".TP\n")
		if f.Short != 0 {
			fmt.Fprintf(b, "\\fB\\-%s\\fR, ", roff(string(f.Short)))
		}
		fmt.Fprintf(b, "\\fB\\-\\-%s\\fR", roff(f.Name))
		if !f.IsBool() && !f.IsCounter() {
			ph := f.PlaceHolder
			if ph == "" {
				ph = strings.ToUpper(f.Name)
			}
			fmt.Fprintf(b, "=\\fI%s\\fR", roff(ph))
		}
		help := oneParagraph(f.Help)
		if f.Enum != "" {
			help += " One of: " + strings.Join(strings.Split(f.Enum, ","), ", ") + "."
		}
		if f.HasDefault && f.Default != "" && !f.IsBool() {
			help += " Default: " + f.Default + "."
		}
		fmt.Fprintf(b, "\n%s\n", roff(help))
	}
}

// oneParagraph folds a help text onto one line.
func oneParagraph(s string) string { return strings.Join(strings.Fields(s), " ") }

// roff escapes text for a roff line: backslashes and hyphens, and a leading dot or apostrophe
// that would start a request.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
