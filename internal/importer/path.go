package importer

import (
	"fmt"
	"strings"
)

// excludedToplevel are the directories kept empty: their children are dropped. sysroot is
// the mount point of the physical root in a deployment: content an image ships there would
// land in the deployment's /sysroot directory and be hidden at boot (upstream filters it).
var excludedToplevel = map[string]bool{"run": true, "tmp": true, "proc": true, "sys": true, "dev": true, "sysroot": true}

// Limits on tar paths, far above what any real image uses (PATH_MAX is 4096, and real
// trees are a few dozen levels deep). libostree's tree writer recurses per level and
// overflows the stack somewhere between 8k and 20k levels, so deeper paths are refused.
const (
	// MaxPathBytes is the longest tar path accepted.
	MaxPathBytes = 4096
	// MaxPathDepth is the most path components accepted.
	MaxPathDepth = 1024
)

// PathRules are the path rewriting and filtering rules for layer content.
type PathRules struct {
	// VarToFactory moves var/ content to usr/share/factory/var/ (libostree before 2024.3
	// does not populate a new stateroot's /var from the image). The var directory itself
	// is kept, empty, so deployments have a mount point.
	VarToFactory bool
	// UsrOnly drops toplevel entries other than usr, etc, var and the excluded
	// directories (upstream's rule for ostree-based images whose root is not transient).
	// Generic images keep them.
	UsrOnly bool
}

// normalized is the result of mapping a tar path.
type normalized struct {
	// paths are the tree paths the entry is written to (usually one; the var directory
	// itself maps to two). Empty for the root directory.
	paths [][]string
	// filtered is the toplevel name the entry was dropped under ("" when kept).
	filtered string
	root     bool
}

// splitPath cleans a tar path into components, refusing absolute paths and "..".
func splitPath(name string) ([]string, error) {
	if strings.HasPrefix(name, "/") {
		return nil, fmt.Errorf("absolute path %q", name)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return nil, fmt.Errorf("path %q contains a NUL byte", name)
	}
	if len(name) > MaxPathBytes {
		return nil, fmt.Errorf("path %q... is %d bytes long, more than the %d accepted", name[:64], len(name), MaxPathBytes)
	}
	if n := strings.Count(name, "/") + 1; n > MaxPathDepth {
		var depth int
		for _, c := range strings.Split(name, "/") {
			if c != "" && c != "." {
				depth++
			}
		}
		if depth > MaxPathDepth {
			return nil, fmt.Errorf("path %q... is %d levels deep, more than the %d accepted", name[:64], depth, MaxPathDepth)
		}
	}
	var out []string
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return nil, fmt.Errorf("path %q contains \"..\"", name)
		}
		out = append(out, c)
	}
	return out, nil
}

// normalize maps a tar path to its place in the layer commit.
func (r PathRules) normalize(name string, isDir bool) (normalized, error) {
	parts, err := splitPath(name)
	if err != nil {
		return normalized{}, err
	}
	if len(parts) == 0 {
		return normalized{root: true}, nil
	}
	first := parts[0]
	switch {
	case first == "usr":
		return normalized{paths: [][]string{parts}}, nil
	case first == "etc":
		return normalized{paths: [][]string{join([]string{"usr", "etc"}, parts[1:])}}, nil
	case first == "var" && r.VarToFactory:
		factory := join([]string{"usr", "share", "factory", "var"}, parts[1:])
		if len(parts) == 1 && isDir {
			return normalized{paths: [][]string{{"var"}, factory}}, nil
		}
		return normalized{paths: [][]string{factory}}, nil
	case first == "var":
		return normalized{paths: [][]string{parts}}, nil
	case excludedToplevel[first]:
		if len(parts) > 1 {
			return normalized{filtered: first}, nil
		}
		return normalized{paths: [][]string{parts}}, nil
	case r.UsrOnly:
		return normalized{filtered: first}, nil
	}
	return normalized{paths: [][]string{parts}}, nil
}

func join(prefix, rest []string) []string {
	out := make([]string, 0, len(prefix)+len(rest))
	return append(append(out, prefix...), rest...)
}
