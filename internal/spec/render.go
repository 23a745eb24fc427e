package spec

import (
	"fmt"
	"io"
)

// Format is an output format of `bootc status --format`.
type Format string

// The output formats, spelled as on the command line.
const (
	// FormatHumanReadable is text for people ([RenderHuman]); unstable.
	FormatHumanReadable Format = "humanreadable"
	// FormatYAML is the YAML document ([RenderYAML]).
	FormatYAML Format = "yaml"
	// FormatJSON is the canonical JSON document ([RenderJSON]).
	FormatJSON Format = "json"
)

// Formats lists the formats in the order `--help` shows them.
var Formats = []Format{FormatHumanReadable, FormatYAML, FormatJSON}

// ParseFormat parses the value of --format.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("invalid output format %q: want humanreadable, yaml or json", s)
}

// DefaultFormat is the format used without --format: human-readable when
// standard output is a terminal, else YAML.
func DefaultFormat(isTerminal bool) Format {
	if isTerminal {
		return FormatHumanReadable
	}
	return FormatYAML
}

// CheckFormatVersion accepts the values of --format-version that upstream
// accepts: 0 and 1, which both select the one current format (v1).
func CheckFormatVersion(v int) error {
	switch v {
	case 0, 1:
		return nil
	default:
		return fmt.Errorf("Unsupported format version: %d (supported: 0 and 1, both meaning v1)", v)
	}
}

// RenderOptions are the options of `bootc status` beyond the format.
type RenderOptions struct {
	// FormatVersion is --format-version; 0 (the default) and 1 are valid.
	FormatVersion int
	// Booted is --booted: show only the booted entry (staged and rollback
	// are dropped; other deployments are kept, as upstream does).
	Booted bool
	// Verbose is -v: more rows in the human-readable format.
	Verbose bool
}

// Render writes h to w in format f, as `bootc status` does. h is not
// modified.
func Render(w io.Writer, h *Host, f Format, opts RenderOptions) error {
	if err := CheckFormatVersion(opts.FormatVersion); err != nil {
		return err
	}
	if opts.Booted {
		filtered := *h
		filtered.FilterToSlot(SlotBooted)
		h = &filtered
	}
	switch f {
	case FormatJSON:
		return RenderJSON(w, h)
	case FormatYAML:
		return RenderYAML(w, h)
	case FormatHumanReadable:
		return RenderHuman(w, h, opts.Verbose)
	default:
		return fmt.Errorf("invalid output format %q: want humanreadable, yaml or json", string(f))
	}
}
