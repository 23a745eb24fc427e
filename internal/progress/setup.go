package progress

import (
	"errors"
	"io"
)

// Sinks are the reporters of one command, built by [Setup].
type Sinks struct {
	// Reporter fans out to the terminal and the progress fd.
	Reporter Reporter
	terminal *Terminal
	json     *JSONWriter
}

// Setup builds the reporters of a command that takes `--quiet` and
// `--progress-fd`: a [Terminal] on w (normally os.Stderr; silent when quiet)
// and, when progressFD > 0, a [JSONWriter] on that file descriptor. As
// upstream, --quiet does not silence the progress fd.
func Setup(w io.Writer, quiet bool, progressFD int) (*Sinks, error) {
	s := &Sinks{terminal: NewTerminal(w, TerminalOptions{Quiet: quiet})}
	if progressFD > 0 {
		j, err := OpenFD(progressFD)
		if err != nil {
			return nil, err
		}
		s.json = j
	}
	if s.json != nil {
		s.Reporter = Multi(s.terminal, s.json)
	} else {
		s.Reporter = Multi(s.terminal)
	}
	return s, nil
}

// Close stops the terminal output and flushes and closes the progress fd.
// The error is the progress fd's write error, which callers should print as
// a warning without failing the command (upstream: "Failed to write to
// jsonl").
func (s *Sinks) Close() error {
	var errs []error
	if s.terminal != nil {
		errs = append(errs, s.terminal.Close())
	}
	if s.json != nil {
		errs = append(errs, s.json.Close())
	}
	return errors.Join(errs...)
}
