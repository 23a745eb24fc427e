package lint

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// tmpfilesDirs are read in this order; a later one overrides an earlier one's entry.
var tmpfilesDirs = []string{"usr/lib/tmpfiles.d", "etc/tmpfiles.d"}

// identity names a directory entry by its parent directory's device and inode and its
// name, so that a tmpfiles.d path through a symbolic link (/root/.ssh with /root ->
// var/roothome) matches what a walk of /var meets.
type identity struct {
	dev, ino uint64
	name     string
}

// tmpfilesEntryPath returns the path of a tmpfiles.d line: the second field, with
// C-style escapes and double quotes undone.
func tmpfilesEntryPath(line string) (string, error) {
	s := strings.TrimLeft(line, " \t")
	i := strings.IndexAny(s, " \t")
	if i <= 0 {
		return "", fmt.Errorf("malformed tmpfiles.d entry: %q", line)
	}
	s = strings.TrimLeft(s[i:], " \t")
	var b strings.Builder
	quoted := false
	for j := 0; j < len(s); j++ {
		ch := s[j]
		switch {
		case ch == '"':
			quoted = !quoted
			continue
		case !quoted && (ch == ' ' || ch == '\t'):
			return b.String(), nil
		case ch == '\\' && j+1 < len(s):
			j++
			switch s[j] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'x':
				if j+2 < len(s) {
					if v, err := strconv.ParseUint(s[j+1:j+3], 16, 8); err == nil {
						b.WriteByte(byte(v))
						j += 2
						continue
					}
				}
				b.WriteByte('x')
			default:
				b.WriteByte(s[j])
			}
			continue
		}
		b.WriteByte(ch)
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("malformed tmpfiles.d entry: %q", line)
	}
	return b.String(), nil
}

// declaredTmpfiles returns the identities of the paths tmpfiles.d declares in the root.
// Entries whose parent directory does not exist (or cannot be resolved inside the root)
// cannot match anything on disk and are left out.
func (c *checker) declaredTmpfiles() (map[identity]bool, error) {
	out := map[identity]bool{}
	for _, dir := range tmpfilesDirs {
		if !c.isDir(dir) {
			continue
		}
		entries, err := fs.ReadDir(rootFS{c.root}, dir)
		if err != nil {
			return nil, fmt.Errorf("reading /%s: %w", dir, err)
		}
		for _, e := range entries {
			if path.Ext(e.Name()) != ".conf" {
				continue
			}
			name := path.Join(dir, e.Name())
			data, _, err := c.readFile(name)
			if err != nil {
				return nil, err
			}
			for _, line := range strings.Split(string(data), "\n") {
				if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
					continue
				}
				p, err := tmpfilesEntryPath(line)
				if err != nil {
					return nil, fmt.Errorf("/%s: %w", name, err)
				}
				if !strings.HasPrefix(p, "/") {
					continue // a specifier such as %h
				}
				p = path.Clean(p)
				parent := strings.TrimPrefix(path.Dir(p), "/")
				if parent == "" {
					parent = "."
				}
				fi, err := stat(c.root, parent)
				if err != nil || !fi.IsDir() {
					continue
				}
				st, ok := fi.Sys().(*syscall.Stat_t)
				if !ok {
					continue
				}
				out[identity{uint64(st.Dev), uint64(st.Ino), path.Base(p)}] = true
			}
		}
	}
	return out, nil
}

// tmpfilesEscape writes a path as a tmpfiles.d line needs it: printable ASCII as is,
// backslash and everything else escaped; /var/run/... spelled /run/....
func tmpfilesEscape(p string) string {
	if p == "/var/run" || strings.HasPrefix(p, "/var/run/") {
		p = "/run" + strings.TrimPrefix(p, "/var/run")
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		ch := p[i]
		switch {
		case ch == '\\':
			b.WriteString(`\\`)
		case ch > ' ' && ch < 0x7f:
			b.WriteByte(ch)
		case ch == '\n':
			b.WriteString(`\n`)
		case ch == '\t':
			b.WriteString(`\t`)
		case ch == '\r':
			b.WriteString(`\r`)
		default:
			fmt.Fprintf(&b, `\x%02x`, ch)
		}
	}
	return b.String()
}

// checkVarTmpfiles lists what /var holds without a tmpfiles.d entry: the tmpfiles.d
// lines that would create the directories and symbolic links, and the other files
// (which tmpfiles.d cannot express).
func checkVarTmpfiles(c *checker) (string, error) {
	fi, err := c.lstat("var")
	if err != nil || fi == nil || !fi.IsDir() {
		return "", err
	}
	declared, err := c.declaredTmpfiles()
	if err != nil {
		return "", err
	}
	_, users, _, err := c.loadNames("etc/passwd")
	if err != nil {
		return "", err
	}
	_, groups, _, err := c.loadNames("etc/group")
	if err != nil {
		return "", err
	}
	name := func(db nameDB, id uint32) string {
		if n, ok := db[id]; ok {
			return n
		}
		return strconv.FormatUint(uint64(id), 10)
	}
	var lines, unsupported []string
	err = walk(c.root, "var", func(e *entry) error {
		var pst unix.Stat_t
		if err := unix.Fstat(int(e.parent.Fd()), &pst); err != nil {
			return fmt.Errorf("stat of the directory of /%s: %w", e.Path, err)
		}
		if declared[identity{pst.Dev, pst.Ino, e.Name}] {
			return nil
		}
		abs := "/" + e.Path
		switch e.Type {
		case fs.ModeDir:
			lines = append(lines, fmt.Sprintf("d %s %04o %s %s - -", tmpfilesEscape(abs), e.Stat.Mode&0o7777,
				name(users, e.Stat.Uid), name(groups, e.Stat.Gid)))
		case fs.ModeSymlink:
			target, err := readlinkAt(e.parent, e.Name)
			if err != nil {
				return fmt.Errorf("reading the symbolic link %s: %w", abs, err)
			}
			lines = append(lines, fmt.Sprintf("L %s - - - - %s", tmpfilesEscape(abs), tmpfilesEscape(target)))
		default:
			unsupported = append(unsupported, quotePath(e.Path))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	slices.Sort(lines)
	return c.items("Found content in /var missing systemd tmpfiles.d entries", lines) +
		c.items("Found non-directory/non-symlink files in /var", unsupported), nil
}
