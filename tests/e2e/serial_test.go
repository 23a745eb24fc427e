package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// serialLog follows the file qemu writes the guest's serial console to.
type serialLog struct {
	path    string
	start   time.Time
	off     int64
	partial []byte
	lines   []logLine
}

// logLine is one line of the serial console and when the harness saw it.
type logLine struct {
	at   time.Duration // since qemu started
	text string
}

func newSerialLog(path string) *serialLog { return &serialLog{path: path} }

// poll reads what qemu wrote since the last call and returns the new complete lines.
func (s *serialLog) poll() []logLine {
	f, err := os.Open(s.path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(s.off, io.SeekStart); err != nil {
		return nil
	}
	data, _ := io.ReadAll(f)
	s.off += int64(len(data))
	data = append(s.partial, data...)
	at := time.Since(s.start)
	var out []logLine
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		l := logLine{at: at, text: cleanLine(string(data[:i]))}
		out = append(out, l)
		data = data[i+1:]
	}
	s.partial = append([]byte(nil), data...)
	s.lines = append(s.lines, out...)
	return out
}

// cleanLine drops carriage returns and terminal escape sequences (systemd colours its
// status lines).
func cleanLine(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	if !strings.Contains(s, "\x1b") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != 0x1b {
			b.WriteByte(s[i])
			continue
		}
		// ESC [ params final
		if i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		i++ // ESC c and other two-byte sequences
	}
	return b.String()
}

// tail returns the last n lines of the log, as text.
func (s *serialLog) tail(n int) string {
	lines := s.lines
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%7.1fs | %s\n", l.at.Seconds(), l.text)
	}
	if len(s.partial) > 0 {
		fmt.Fprintf(&b, "        | %s\n", cleanLine(string(s.partial)))
	}
	return b.String()
}

// firstAt returns when the first line containing s appeared (0 if none did).
func (s *serialLog) firstAt(sub string) time.Duration {
	for _, l := range s.lines {
		if strings.Contains(l.text, sub) {
			return l.at
		}
	}
	return 0
}

// after returns the text following the first occurrence of prefix in a line (anywhere
// in it: kernel messages can share a line with ours), and whether there was one.
func after(line, prefix string) (string, bool) {
	i := strings.Index(line, prefix)
	if i < 0 {
		return "", false
	}
	return line[i+len(prefix):], true
}

// consoleReport is what the bootc-test-marker protocol said during one boot.
type consoleReport struct {
	markers []string // each BOOTC-TEST-MARKER version (one per boot)
	cmdline string
	conf    []string
	steps   []string // step.sh's output lines, in order
	doneRC  int      // -1: no BOOTC-TEST-DONE
}

func (s *serialLog) report() consoleReport {
	r := consoleReport{doneRC: -1}
	for _, l := range s.lines {
		t := l.text
		if v, ok := after(t, "BOOTC-TEST-MARKER version="); ok {
			r.markers = append(r.markers, strings.TrimSpace(v))
		} else if v, ok := after(t, "BOOTC-TEST-CMDLINE: "); ok {
			r.cmdline = v
		} else if v, ok := after(t, "BOOTC-TEST-CONF: "); ok {
			r.conf = append(r.conf, v)
		} else if v, ok := after(t, "BOOTC-TEST-STEP: "); ok {
			r.steps = append(r.steps, v)
		} else if v, ok := after(t, "BOOTC-TEST-DONE rc="); ok {
			if n, err := strconv.Atoi(strings.Fields(v + " x")[0]); err == nil {
				r.doneRC = n
			}
		}
	}
	return r
}

// stepValue returns the value of the last step line "KEY: value".
func (r consoleReport) stepValue(key string) (string, bool) {
	val, found := "", false
	for _, s := range r.steps {
		if v, ok := strings.CutPrefix(s, key+": "); ok {
			val, found = v, true
		}
	}
	return val, found
}

// stepLines returns the step lines starting with prefix, without it.
func (r consoleReport) stepLines(prefix string) []string {
	var out []string
	for _, s := range r.steps {
		if v, ok := strings.CutPrefix(s, prefix); ok {
			out = append(out, v)
		}
	}
	return out
}

// hasStep reports whether a step line equals line.
func (r consoleReport) hasStep(line string) bool {
	for _, s := range r.steps {
		if s == line {
			return true
		}
	}
	return false
}

// section returns the step lines between the lines begin and end (exclusive).
func (r consoleReport) section(begin, end string) []string {
	var out []string
	in := false
	for _, s := range r.steps {
		switch {
		case s == begin:
			in = true
		case s == end && in:
			return out
		case in:
			out = append(out, s)
		}
	}
	return out
}
