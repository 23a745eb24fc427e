// Package boundimage reads the logically bound images of a root filesystem: the images
// named by the quadlet files (*.image, *.container) linked from /usr/lib/bootc/bound-images.d,
// as upstream bootc defines them.
package boundimage

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Dir is where an image lists its bound images, relative to its root.
const Dir = "usr/lib/bootc/bound-images.d"

// Image is one bound image.
type Image struct {
	// Name is the image reference (the quadlet's Image= value).
	Name string
	// AuthFile is the quadlet's AuthFile= value, if any.
	AuthFile string
	// File is the quadlet file's name in Dir.
	File string
}

// List returns the bound images of the root filesystem fsys (os.DirFS of a root, or a
// commit's tree), sorted by file name. A missing Dir means none. Symbolic links are resolved
// inside fsys, which must implement fs.ReadLinkFS: an absolute target names a path of the
// root, as it will once the root is booted, and ".." stops at the root.
func List(fsys fs.FS) ([]Image, error) {
	ents, err := fs.ReadDir(fsys, Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Image
	for _, e := range ents {
		section := ""
		switch path.Ext(e.Name()) {
		case ".image":
			section = "Image"
		case ".container":
			section = "Container"
		default:
			continue
		}
		name := path.Join(Dir, e.Name())
		img, err := read(fsys, name, section)
		if err != nil {
			return nil, fmt.Errorf("bound image /%s: %w", name, err)
		}
		img.File = e.Name()
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

// read resolves name's symbolic links inside fsys and parses the file it names.
func read(fsys fs.FS, name, section string) (Image, error) {
	p, err := resolve(fsys, name)
	if err != nil {
		return Image{}, err
	}
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		return Image{}, err
	}
	return parse(string(data), section)
}

// resolve follows the symbolic links of name with fsys's root as "/", and returns the path
// of the file it names.
func resolve(fsys fs.FS, name string) (string, error) {
	cur := "."
	parts := strings.Split(name, "/")
	for hops := 0; len(parts) > 0; {
		part := parts[0]
		parts = parts[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, part)
		fi, err := fs.Lstat(fsys, next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", name)
		}
		target, err := fs.ReadLink(fsys, next)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = "."
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	return cur, nil
}

// parse reads the Image= and AuthFile= keys of the named section of a quadlet file
// (systemd unit syntax: comments start with # or ;, values may be quoted, a trailing
// backslash continues a line).
func parse(data, section string) (Image, error) {
	var img Image
	cur := ""
	sc := bufio.NewScanner(strings.NewReader(data))
	var pending string
	for sc.Scan() {
		line := pending + strings.TrimSpace(sc.Text())
		pending = ""
		if strings.HasSuffix(line, `\`) {
			pending = strings.TrimSuffix(line, `\`) + " "
			continue
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && strings.HasSuffix(line, "]"):
			cur = line[1 : len(line)-1]
		case cur == section:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			v = unquote(strings.TrimSpace(v))
			switch strings.TrimSpace(k) {
			case "Image":
				img.Name = v
			case "AuthFile":
				img.AuthFile = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Image{}, err
	}
	if img.Name == "" {
		return Image{}, fmt.Errorf("no Image= in its [%s] section", section)
	}
	return img, nil
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}
