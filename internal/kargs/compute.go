package kargs

import (
	"fmt"
	"io/fs"
)

// Argument keys upstream treats specially.
const (
	// RootKey is the root filesystem argument (root=).
	RootKey = "root"
	// OstreeKey is the argument libostree writes into every BLS entry
	// (ostree=/ostree/boot.N/STATEROOT/BOOTCSUM/SERIAL). libostree replaces
	// it when it writes the entry, so it may be passed through.
	OstreeKey = "ostree"
	// RW is the argument install adds to mount the root read-write.
	RW = "rw"
)

// ApplyDiff applies the change between the kargs.d arguments of the current
// image (oldKargsd) and of the new image (newKargsd) to current, in place:
// every argument of oldKargsd absent from newKargsd is removed from current
// (all equal occurrences), then every argument of newKargsd absent from
// oldKargsd is added unless current already holds it. Arguments only
// current has (machine-local ones) stay, in their order.
func ApplyDiff(current *Cmdline, oldKargsd, newKargsd Cmdline) {
	var added, removed Cmdline
	for _, a := range newKargsd {
		if !oldKargsd.Contains(a) {
			added = append(added, a)
		}
	}
	for _, a := range oldKargsd {
		if !newKargsd.Contains(a) {
			removed = append(removed, a)
		}
	}
	for _, a := range removed {
		current.RemoveExact(a)
	}
	for _, a := range added {
		current.Add(a)
	}
}

// ForUpdate computes the kernel arguments of a new deployment made from the
// merge deployment (the booted one, normally) as upstream's get_kargs does:
//
//   - mergeOptions: the merge deployment's BLS `options`, parsed;
//   - mergeKargsd: kargs.d of the merge deployment's tree;
//   - newKargsd, newHasKargsd: kargs.d of the new image, and whether the new
//     image has a kargs.d directory at all.
//
// When the new image has no kargs.d directory, the result is mergeOptions
// extended with mergeKargsd (nothing is removed). Otherwise the kargs.d
// difference is applied with [ApplyDiff]. The ostree= argument in
// mergeOptions is passed through, as upstream does; libostree replaces it.
// The inputs are not modified.
func ForUpdate(mergeOptions, mergeKargsd, newKargsd Cmdline, newHasKargsd bool) Cmdline {
	out := mergeOptions.Clone()
	if out == nil {
		out = Cmdline{}
	}
	if !newHasKargsd {
		out.Extend(mergeKargsd)
		return out
	}
	ApplyDiff(&out, mergeKargsd, newKargsd)
	return out
}

// ForUpdateFS is [ForUpdate] reading kargs.d from the merge deployment's
// tree and the new image's tree (for example an ostree commit through an
// fs.FS adapter). mergeOptions is the BLS `options` value.
func ForUpdateFS(mergeOptions string, mergeRoot, newRoot fs.FS, arch string) (Cmdline, error) {
	mergeKargsd, _, err := Load(mergeRoot, arch)
	if err != nil {
		return nil, fmt.Errorf("kargs.d of the merge deployment: %w", err)
	}
	newKargsd, present, err := Load(newRoot, arch)
	if err != nil {
		return nil, fmt.Errorf("kargs.d of the new image: %w", err)
	}
	return ForUpdate(Parse(mergeOptions), mergeKargsd, newKargsd, present), nil
}

// InstallSources are the inputs of the install-time kernel arguments.
type InstallSources struct {
	// Root holds the root filesystem arguments (see [RootMountArgs]).
	Root Cmdline
	// Config holds the merged install config `kargs` entries; each entry
	// is parsed on its own and may hold several arguments.
	Config []string
	// Kargsd holds the image's kargs.d arguments.
	Kargsd Cmdline
	// ConfigDeletes holds the install config `karg-deletes` entries.
	ConfigDeletes []string
	// Deletes holds the --karg-delete values.
	Deletes []string
	// CLI holds the --karg values; each may hold several arguments.
	CLI []string
}

// ForInstall computes the kernel arguments of a freshly installed deployment
// as upstream does: root filesystem arguments, then install config kargs,
// then kargs.d (each added unless an equal argument is already present);
// then the install config deletions and the --karg-delete deletions (see
// [Cmdline.Delete]); then the --karg arguments, so the command line wins over
// every configuration.
func ForInstall(s InstallSources) Cmdline {
	out := Cmdline{}
	out.Extend(s.Root)
	for _, k := range s.Config {
		out.Extend(Parse(k))
	}
	out.Extend(s.Kargsd)
	for _, d := range s.ConfigDeletes {
		out.Delete(d)
	}
	for _, d := range s.Deletes {
		out.Delete(d)
	}
	for _, k := range s.CLI {
		out.Extend(Parse(k))
	}
	return out
}

// RootMountArgs builds the root filesystem arguments install starts from:
// root=rootSpec followed by inherited (rootflags=, rd.*), unless rootSpec is
// empty (an empty mount spec omits them, upstream issue 1441); then rw; then
// boot=bootSource when bootSource is not empty.
func RootMountArgs(rootSpec string, inherited []string, bootSource string) Cmdline {
	out := Cmdline{}
	if rootSpec != "" {
		out = append(out, Arg(RootKey+"="+rootSpec))
		for _, a := range inherited {
			out = append(out, Parse(a)...)
		}
	}
	out = append(out, Arg(RW))
	if bootSource != "" {
		out = append(out, Arg("boot="+bootSource))
	}
	return out
}
