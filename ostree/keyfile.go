package ostree

import (
	"bufio"
	"fmt"
	"strings"
)

// KeyFile is a GLib key file (the format of ostree origin files and repo configs), held in
// Go. It keeps groups, keys and comments in file order, so a file read and written again is
// unchanged apart from edited keys.
type KeyFile struct {
	groups []*kfGroup
	// head holds comment and blank lines before the first group.
	head []string
}

type kfGroup struct {
	name  string
	lines []kfLine
}

// kfLine is a key=value line, or a comment/blank line when key is "".
type kfLine struct {
	key, raw string
}

// ParseKeyFile parses key file text. Lines that are neither comments, groups nor key=value
// pairs are an error naming the line.
func ParseKeyFile(data string) (*KeyFile, error) {
	kf := &KeyFile{}
	var cur *kfGroup
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			if cur == nil {
				kf.head = append(kf.head, line)
			} else {
				cur.lines = append(cur.lines, kfLine{raw: line})
			}
		case strings.HasPrefix(trimmed, "["):
			if !strings.HasSuffix(trimmed, "]") || len(trimmed) < 3 {
				return nil, fmt.Errorf("key file line %d: malformed group %q", n, line)
			}
			cur = kf.group(trimmed[1:len(trimmed)-1], true)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || cur == nil || strings.TrimSpace(k) == "" {
				return nil, fmt.Errorf("key file line %d: expected key=value in a group: %q", n, line)
			}
			cur.set(strings.TrimSpace(k), strings.TrimLeft(v, " \t"))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	return kf, nil
}

func (kf *KeyFile) group(name string, create bool) *kfGroup {
	for _, g := range kf.groups {
		if g.name == name {
			return g
		}
	}
	if !create {
		return nil
	}
	g := &kfGroup{name: name}
	kf.groups = append(kf.groups, g)
	return g
}

func (g *kfGroup) set(key, raw string) {
	for i := range g.lines {
		if g.lines[i].key == key {
			g.lines[i].raw = raw
			return
		}
	}
	// Insert after the last key, before trailing blank lines.
	at := len(g.lines)
	for at > 0 && g.lines[at-1].key == "" && strings.TrimSpace(g.lines[at-1].raw) == "" {
		at--
	}
	g.lines = append(g.lines, kfLine{})
	copy(g.lines[at+1:], g.lines[at:])
	g.lines[at] = kfLine{key: key, raw: raw}
}

// Get returns the string value of group.key (with GLib escapes \s \n \t \r \\ decoded)
// and whether it is set.
func (kf *KeyFile) Get(group, key string) (string, bool) {
	g := kf.group(group, false)
	if g == nil {
		return "", false
	}
	for _, l := range g.lines {
		if l.key == key {
			return unescapeKeyValue(l.raw), true
		}
	}
	return "", false
}

// Set sets group.key to value (escaped as GLib does), creating the group if needed.
func (kf *KeyFile) Set(group, key, value string) {
	kf.group(group, true).set(key, escapeKeyValue(value))
}

// Remove deletes group.key; removing a missing key does nothing.
func (kf *KeyFile) Remove(group, key string) {
	g := kf.group(group, false)
	if g == nil {
		return
	}
	for i, l := range g.lines {
		if l.key == key {
			g.lines = append(g.lines[:i], g.lines[i+1:]...)
			return
		}
	}
}

// Groups returns the group names in file order.
func (kf *KeyFile) Groups() []string {
	out := make([]string, len(kf.groups))
	for i, g := range kf.groups {
		out[i] = g.name
	}
	return out
}

// Keys returns the keys of group in file order.
func (kf *KeyFile) Keys(group string) []string {
	g := kf.group(group, false)
	if g == nil {
		return nil
	}
	var out []string
	for _, l := range g.lines {
		if l.key != "" {
			out = append(out, l.key)
		}
	}
	return out
}

// String serialises the key file.
func (kf *KeyFile) String() string {
	var b strings.Builder
	for _, l := range kf.head {
		b.WriteString(l + "\n")
	}
	for i, g := range kf.groups {
		if i > 0 || len(kf.head) > 0 {
			if s := b.String(); !strings.HasSuffix(s, "\n\n") && len(s) > 0 {
				b.WriteString("\n")
			}
		}
		b.WriteString("[" + g.name + "]\n")
		for _, l := range g.lines {
			if l.key == "" {
				b.WriteString(l.raw + "\n")
			} else {
				b.WriteString(l.key + "=" + l.raw + "\n")
			}
		}
	}
	return b.String()
}

func escapeKeyValue(v string) string {
	var b strings.Builder
	for i, r := range v {
		switch {
		case r == ' ' && i == 0:
			b.WriteString(`\s`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\\':
			b.WriteString(`\\`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func unescapeKeyValue(raw string) string {
	if !strings.Contains(raw, `\`) {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 == len(raw) {
			b.WriteByte(c)
			continue
		}
		i++
		switch raw[i] {
		case 's':
			b.WriteByte(' ')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\':
			b.WriteByte('\\')
		default:
			b.WriteByte('\\')
			b.WriteByte(raw[i])
		}
	}
	return b.String()
}
