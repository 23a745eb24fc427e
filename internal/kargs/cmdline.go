package kargs

import "strings"

// Arg is one kernel argument exactly as written, possibly quoted, for
// example `console=ttyS0,115200n8`, `quiet` or `foo="a b"`. An Arg should
// hold a single argument: use [Parse] or [ParseArg] to build one from text.
type Arg string

// Cmdline is an ordered list of kernel arguments.
type Cmdline []Arg

// isSpace reports ASCII whitespace as Rust's u8::is_ascii_whitespace does
// (space, tab, newline, form feed, carriage return; not vertical tab).
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// nextArg returns the first argument of s and the rest of s.
func nextArg(s string) (arg, rest string, ok bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	if i == len(s) {
		return "", "", false
	}
	start := i
	quoted := false
	for ; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			quoted = !quoted
		}
		if !quoted && isSpace(c) {
			break
		}
	}
	return s[start:i], s[i:], true
}

// Parse splits a kernel command line into arguments. Whitespace inside double
// quotes does not split; an unclosed quote runs to the end of the line.
func Parse(s string) Cmdline {
	var c Cmdline
	for {
		arg, rest, ok := nextArg(s)
		if !ok {
			return c
		}
		c = append(c, Arg(arg))
		s = rest
	}
}

// ParseArg returns the first argument of s; ok is false when s is empty or
// only whitespace. The rest of s is ignored.
func ParseArg(s string) (a Arg, ok bool) {
	arg, _, ok := nextArg(s)
	return Arg(arg), ok
}

// String returns the argument as written.
func (a Arg) String() string { return string(a) }

// split returns the key and value with upstream's dequoting: the first and
// last double quote of the whole argument are dropped, the key ends at the
// first '=', and a double quote right after that '=' is dropped.
func (a Arg) split() (key, value string, hasValue bool) {
	s := string(a)
	s = strings.TrimPrefix(s, `"`)
	s = strings.TrimSuffix(s, `"`)
	k, v, found := strings.Cut(s, "=")
	if !found {
		return s, "", false
	}
	return k, strings.TrimPrefix(v, `"`), true
}

// Key returns the argument's key (the part before the first '=', dequoted).
func (a Arg) Key() string {
	k, _, _ := a.split()
	return k
}

// Value returns the argument's dequoted value; ok is false for a switch
// without '=' (an empty value after '=' has ok true).
func (a Arg) Value() (value string, ok bool) {
	_, v, ok := a.split()
	return v, ok
}

// KeyEqual compares two keys treating '-' and '_' as the same character;
// the comparison is otherwise byte-exact (case-sensitive).
func KeyEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == '-' {
			x = '_'
		}
		if y == '-' {
			y = '_'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Equal reports whether two arguments are the same for upstream: equal keys
// (dash/underscore-insensitive) and byte-equal values, a switch never being
// equal to a key=value argument.
func (a Arg) Equal(b Arg) bool {
	ka, va, ha := a.split()
	kb, vb, hb := b.split()
	return ha == hb && va == vb && KeyEqual(ka, kb)
}

// Strings returns the arguments as strings, for example for
// ostree's override_kernel_argv.
func (c Cmdline) Strings() []string {
	out := make([]string, len(c))
	for i, a := range c {
		out[i] = string(a)
	}
	return out
}

// String joins the arguments with single spaces.
func (c Cmdline) String() string {
	return strings.Join(c.Strings(), " ")
}

// Clone returns a copy of c that shares no storage with it.
func (c Cmdline) Clone() Cmdline {
	if c == nil {
		return nil
	}
	return append(Cmdline{}, c...)
}

// Contains reports whether an argument equal to a is present.
func (c Cmdline) Contains(a Arg) bool {
	for _, x := range c {
		if x.Equal(a) {
			return true
		}
	}
	return false
}

// Find returns the first argument whose key equals key.
func (c Cmdline) Find(key string) (Arg, bool) {
	for _, x := range c {
		if KeyEqual(x.Key(), key) {
			return x, true
		}
	}
	return "", false
}

// Value returns the value of the first argument with the given key; ok is
// false when no such argument exists or it has no '='.
func (c Cmdline) Value(key string) (value string, ok bool) {
	a, found := c.Find(key)
	if !found {
		return "", false
	}
	return a.Value()
}

// Add appends a unless an equal argument is already present, and reports
// whether it appended. Arguments with the same key but another value are
// appended (multiple console= arguments are legitimate).
func (c *Cmdline) Add(a Arg) bool {
	if c.Contains(a) {
		return false
	}
	*c = append(*c, a)
	return true
}

// Extend adds each argument of o in order, as [Cmdline.Add] does.
func (c *Cmdline) Extend(o Cmdline) {
	for _, a := range o {
		c.Add(a)
	}
}

// RemoveExact removes every argument equal to a and reports whether any was
// removed.
func (c *Cmdline) RemoveExact(a Arg) bool {
	return c.removeIf(func(x Arg) bool { return x.Equal(a) })
}

// RemoveKey removes every argument with the given key (with or without a
// value) and reports whether any was removed.
func (c *Cmdline) RemoveKey(key string) bool {
	return c.removeIf(func(x Arg) bool { return KeyEqual(x.Key(), key) })
}

func (c *Cmdline) removeIf(f func(Arg) bool) bool {
	out := (*c)[:0:0]
	removed := false
	for _, x := range *c {
		if f(x) {
			removed = true
			continue
		}
		out = append(out, x)
	}
	if removed {
		*c = out
	}
	return removed
}

// Delete applies one `--karg-delete` / install config `karg-deletes` entry
// as upstream does: `key=value` removes exactly that argument, a bare `key`
// removes every argument with that key. Only the first argument of spec is
// used; an empty spec does nothing. It reports whether anything was removed.
func (c *Cmdline) Delete(spec string) bool {
	a, ok := ParseArg(spec)
	if !ok {
		return false
	}
	if _, hasValue := a.Value(); hasValue {
		return c.RemoveExact(a)
	}
	return c.RemoveKey(a.Key())
}

// Equal reports whether a and b hold the same arguments regardless of order,
// counting duplicates (upstream's Cmdline equality): "a b" equals "b a", but
// "a" does not equal "a a".
func Equal(a, b Cmdline) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
outer:
	for _, x := range a {
		for j, y := range b {
			if !used[j] && x.Equal(y) {
				used[j] = true
				continue outer
			}
		}
		return false
	}
	return true
}
