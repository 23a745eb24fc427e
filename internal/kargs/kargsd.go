package kargs

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/bootc-go/bootc/internal/kargs/tomlstrict"
)

// Dir is the kargs.d directory, relative to the root of an image tree.
const Dir = "usr/lib/bootc/kargs.d"

// fileConfig is one kargs.d file (upstream: deny_unknown_fields, kebab-case).
type fileConfig struct {
	Kargs              *[]string `toml:"kargs"`
	MatchArchitectures *[]string `toml:"match-architectures"`
}

// FileError is a problem with one kargs.d file: it names the file and, when
// known, the line and column. Its message reads
// "parsing kargs.d file FILE:LINE:COL: MSG".
type FileError = tomlstrict.FileError

// fileKind is how [FileError] messages name a kargs.d file.
const fileKind = "kargs.d file"

func fileError(name string, err error) error {
	return tomlstrict.NewFileError(fileKind, name, err)
}

// ParseFile parses the contents of one kargs.d file. It returns the file's
// arguments and whether they apply to arch (Rust spelling, see [Arch]); a
// file without match-architectures applies everywhere. name is used in
// errors only. The entries of `kargs` are joined with spaces and split again,
// as upstream does, so an entry "a b" yields two arguments.
func ParseFile(name string, data []byte, arch string) (args Cmdline, matched bool, err error) {
	var cfg fileConfig
	if _, err := tomlstrict.Decode(data, &cfg); err != nil {
		return nil, false, fileError(name, err)
	}
	if cfg.Kargs == nil {
		return nil, false, fileError(name, &tomlstrict.Error{Msg: "missing field `kargs`"})
	}
	if cfg.MatchArchitectures != nil && !slices.Contains(*cfg.MatchArchitectures, arch) {
		return nil, false, nil
	}
	return Parse(strings.Join(*cfg.Kargs, " ")), true, nil
}

// IsConfigName reports whether a kargs.d (or install config) file name is
// considered: its extension, as Rust's Path::extension defines it, must be
// exactly "toml" (so ".toml" alone does not count, "a.b.toml" does).
func IsConfigName(name string) bool {
	i := strings.LastIndexByte(name, '.')
	return i > 0 && name[i+1:] == "toml"
}

// LoadDir reads the kargs.d files directly inside dir of fsys, in byte
// order of their names, and concatenates the arguments of those that match
// arch, dropping exact duplicates. present is false (and err nil) when dir
// does not exist. Errors name the file and line.
func LoadDir(fsys fs.FS, dir string, arch string) (args Cmdline, present bool, err error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("reading %s: %w", dir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if IsConfigName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	args = Cmdline{}
	for _, n := range names {
		p := path.Join(dir, n)
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, true, fmt.Errorf("reading kargs.d file %s: %w", p, err)
		}
		fileArgs, matched, err := ParseFile(p, data, arch)
		if err != nil {
			return nil, true, err
		}
		if matched {
			args.Extend(fileArgs)
		}
	}
	return args, true, nil
}

// Load reads /usr/lib/bootc/kargs.d of the tree rooted at root (a checked
// out deployment, an ostree commit through an fs.FS adapter, or a test map).
// See [LoadDir].
func Load(root fs.FS, arch string) (args Cmdline, present bool, err error) {
	return LoadDir(root, Dir, arch)
}
