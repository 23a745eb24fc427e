package installconfig

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/bootc-go/bootc/internal/kargs"
	"github.com/bootc-go/bootc/internal/kargs/tomlstrict"
)

// Bases are the directories searched for drop-ins, relative to the root, in
// increasing priority (liboverdrop's SYSTEMD_CONVENTIONAL_BASES).
var Bases = []string{"usr/lib", "usr/local/lib", "etc", "run"}

// Subdir is the drop-in directory below each base.
const Subdir = "bootc/install"

// devNull is the symlink target that masks a drop-in of the same name.
const devNull = "/dev/null"

// Fragment is one drop-in file chosen by [Scan].
type Fragment struct {
	// Name is the file name, which orders the fragments.
	Name string
	// Path is the file's path relative to the root.
	Path string
}

// Scan lists the drop-ins below root as upstream's liboverdrop does: for
// each base in [Bases], the regular files of BASE/bootc/install whose name
// does not start with '.' and whose extension is exactly "toml"; a later
// base replaces a same-named file of an earlier one, and a symlink to
// /dev/null removes it. Other symlinks, directories and unreadable
// directories are skipped. The result is sorted by name (byte order).
func Scan(root fs.FS) []Fragment {
	found := map[string]string{}
	for _, base := range Bases {
		dir := path.Join(base, Subdir)
		entries, err := fs.ReadDir(root, dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") || !kargs.IsConfigName(name) {
				continue
			}
			p := path.Join(dir, name)
			if !e.Type().IsRegular() {
				if e.Type()&fs.ModeSymlink != 0 {
					if target, err := fs.ReadLink(root, p); err == nil && target == devNull {
						delete(found, name)
					}
				}
				continue
			}
			found[name] = p
		}
	}
	out := make([]Fragment, 0, len(found))
	for name, p := range found {
		out = append(out, Fragment{Name: name, Path: p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// FileError is a problem with one install config file: it names the file
// and, when known, the line and column. Its message reads
// "parsing install config FILE:LINE:COL: MSG".
type FileError = tomlstrict.FileError

// ParseFile parses one drop-in. It returns its `[install]` table (nil when
// the file has none) and warnings for unknown keys in `[install.ostree]`,
// each naming the file and the dotted key. name is used in messages only.
func ParseFile(name string, data []byte) (*Config, []string, error) {
	var f fileConfig
	unknown, err := tomlstrict.Decode(data, &f)
	if err != nil {
		return nil, nil, tomlstrict.NewFileError("install config", name, err)
	}
	var warnings []string
	for _, k := range unknown {
		warnings = append(warnings, fmt.Sprintf("%s: unknown key %s", name, k))
	}
	return f.Install, warnings, nil
}

// Load reads and merges the install configuration below root for arch
// (Rust spelling, see kargs.Arch). The first file whose `[install]` table
// matches arch is taken as a whole; each later matching one is merged into
// it with [Config.Merge]. The result is canonicalized; it is nil when no
// file applies. Warnings name unknown keys that were ignored; errors name
// the file and line.
func Load(root fs.FS, arch string) (*Config, []string, error) {
	var cfg *Config
	var warnings []string
	for _, frag := range Scan(root) {
		data, err := fs.ReadFile(root, frag.Path)
		if err != nil {
			return nil, warnings, fmt.Errorf("reading install config %s: %w", frag.Path, err)
		}
		c, w, err := ParseFile(frag.Path, data)
		warnings = append(warnings, w...)
		if err != nil {
			return nil, warnings, err
		}
		if c == nil {
			continue
		}
		if cfg == nil {
			if c.Matches(arch) {
				cfg = c
			}
			continue
		}
		cfg.Merge(c, arch)
	}
	if cfg != nil {
		cfg.Canonicalize()
	}
	return cfg, warnings, nil
}
