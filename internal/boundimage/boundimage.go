// Package boundimage reads the logically bound images of a root filesystem: the images
// named by the quadlet files (*.image, *.container) linked from /usr/lib/bootc/bound-images.d,
// as upstream bootc defines them.
package boundimage

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// List returns the bound images of the root filesystem at root, sorted by file name. A
// missing Dir means none. Symbolic links are resolved inside root (an absolute target names
// a path of root, as it will once root is booted).
func List(root string) ([]Image, error) {
	dir := filepath.Join(root, Dir)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Image
	for _, e := range ents {
		section := ""
		switch filepath.Ext(e.Name()) {
		case ".image":
			section = "Image"
		case ".container":
			section = "Container"
		default:
			continue
		}
		p, err := resolve(root, filepath.Join(Dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("bound image %s: %w", filepath.Join(dir, e.Name()), err)
		}
		img, err := parse(p, section)
		if err != nil {
			return nil, fmt.Errorf("bound image %s: %w", filepath.Join(dir, e.Name()), err)
		}
		img.File = e.Name()
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

// resolve follows the symbolic links of rel (relative to root) with root as "/", and returns
// the host path of the file it names.
func resolve(root, rel string) (string, error) {
	cur := ""
	parts := strings.Split(filepath.Clean(rel), "/")
	for hops := 0; len(parts) > 0; {
		part := parts[0]
		parts = parts[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			if cur == "." || cur == "/" {
				cur = ""
			}
			continue
		}
		next := filepath.Join(cur, part)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", rel)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			cur = ""
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	return filepath.Join(root, cur), nil
}

// parse reads the Image= and AuthFile= keys of the named section of a quadlet file
// (systemd unit syntax: comments start with # or ;, values may be quoted, a trailing
// backslash continues a line).
func parse(path, section string) (Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return Image{}, err
	}
	defer f.Close()
	var img Image
	cur := ""
	sc := bufio.NewScanner(f)
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
