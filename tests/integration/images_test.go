package integration

import (
	"archive/tar"
	"testing"

	"github.com/bootc-go/bootc/storage/storagetest"
)

const kver = "6.1.0-test"

func dir(p string, mode int64) storagetest.File {
	return storagetest.File{Path: p, Type: tar.TypeDir, Mode: mode}
}

func file(p string, mode int64, content string) storagetest.File {
	return storagetest.File{Path: p, Mode: mode, Content: []byte(content)}
}

// kernelFiles make an image bootable.
func kernelFiles() []storagetest.File {
	return []storagetest.File{
		dir("usr/", 0o755), dir("usr/lib/", 0o755), dir("usr/lib/modules/", 0o755), dir("usr/lib/modules/"+kver+"/", 0o755),
		{Path: "usr/lib/modules/" + kver + "/vmlinuz", Mode: 0o644, Content: storagetest.Bytes("kernel", 200<<10)},
		{Path: "usr/lib/modules/" + kver + "/initramfs.img", Mode: 0o644, Content: storagetest.Bytes("initramfs", 100<<10)},
	}
}

// richLayers is a three-layer image using every entry type the importer handles: files of
// many sizes (a 5 MiB one included), empty files, executables, setuid, symlinks, hardlinks,
// whiteouts (plain and opaque), extended attributes, owners other than root, content in etc/
// and var/, and toplevel directories outside /usr.
func richLayers() [][]storagetest.File {
	base := append(kernelFiles(),
		dir("usr/bin/", 0o755),
		file("usr/bin/tool", 0o755, "tool v1"),
		file("usr/bin/su", 0o4755, "setuid"),
		storagetest.File{Path: "usr/bin/tool-hardlink", Type: tar.TypeLink, Linkname: "usr/bin/tool", Mode: 0o755},
		storagetest.File{Path: "usr/bin/sh", Type: tar.TypeSymlink, Linkname: "tool"},
		dir("usr/share/", 0o755),
		file("usr/share/empty", 0o644, ""),
		storagetest.File{Path: "usr/share/big", Mode: 0o644, Content: storagetest.Bytes("big", 5<<20+123)},
		file("usr/share/gone", 0o644, "deleted by a whiteout"),
		dir("usr/share/opaque/", 0o755),
		file("usr/share/opaque/a", 0o644, "a"),
		dir("usr/share/opaque/sub/", 0o755),
		file("usr/share/opaque/sub/b", 0o644, "b"),
		storagetest.File{Path: "usr/share/owned/", Type: tar.TypeDir, Mode: 0o2775, UID: 998, GID: 42},
		storagetest.File{Path: "usr/share/owned/file", Mode: 0o664, UID: 1000, GID: 1000, Content: []byte("owned")},
		storagetest.File{Path: "usr/lib/xattr-file", Mode: 0o644, Content: []byte("x"), Xattrs: map[string]string{"user.test": "one"}},
		dir("etc/", 0o755),
		file("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\n"),
		file("etc/app.conf", 0o644, "v1\n"),
		dir("etc/app.d/", 0o750),
		file("etc/app.d/10-default.conf", 0o640, "default\n"),
		storagetest.File{Path: "etc/app-hardlink.conf", Type: tar.TypeLink, Linkname: "etc/app.conf"},
		dir("var/", 0o755),
		dir("var/lib/", 0o755),
		file("var/lib/data", 0o644, "state"),
		dir("tmp/", 0o1777),
		file("tmp/scratch", 0o644, "dropped"),
		dir("opt/", 0o755),
		file("opt/app", 0o755, "app"),
		storagetest.File{Path: "home", Type: tar.TypeSymlink, Linkname: "var/home"},
	)
	derived := []storagetest.File{
		dir("usr/", 0o755), dir("usr/share/", 0o755), dir("usr/bin/", 0o755),
		file("usr/share/.wh.gone", 0o644, ""),
		dir("usr/share/opaque/", 0o700),
		file("usr/share/opaque/.wh..wh..opq", 0o644, ""),
		file("usr/share/opaque/c", 0o644, "c"),
		file("usr/bin/tool", 0o755, "tool v2"),
		dir("etc/", 0o755),
		file("etc/app.conf", 0o644, "v2\n"),
		file("etc/new.conf", 0o600, "new\n"),
	}
	top := []storagetest.File{
		dir("etc/", 0o755),
		file("etc/hostname", 0o644, ""),
		dir("usr/", 0o755), dir("usr/share/", 0o755),
		{Path: "usr/share/labelled/", Type: tar.TypeDir, Mode: 0o755, Xattrs: map[string]string{"user.dir": "d"}},
		file("usr/share/labelled/f", 0o644, "f"),
	}
	return [][]storagetest.File{base, derived, top}
}

// writeImage writes an OCI layout with one image and returns it.
func writeImage(t *testing.T, dirPath, tag string, spec storagetest.ImageSpec) *storagetest.Image {
	t.Helper()
	if spec.Labels == nil {
		spec.Labels = map[string]string{"containers.bootc": "1", "org.opencontainers.image.version": tag}
	}
	img, err := storagetest.WriteOCI(dirPath, tag, spec)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
