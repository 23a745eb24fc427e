package ostreeext

import (
	"encoding/json"
	"fmt"
)

// Labels and annotations of ostree-native images, as upstream ostree-ext writes them.
const (
	// LabelCommit is the config label naming the ostree commit the image encapsulates.
	LabelCommit = "ostree.commit"
	// LabelFinalDiffID is the config label naming the diff ID of the last ostree layer;
	// its presence makes an image ostree-native (format version 1).
	LabelFinalDiffID = "ostree.final-diffid"
	// AnnotationComponents is the annotation of a chunk layer listing the components
	// (packages) whose files it holds, separated by commas.
	AnnotationComponents = "ostree.components"
	// LabelBootable is set ("true") on images whose commit has ostree.bootable.
	LabelBootable = "ostree.bootable"
	// LabelBootc is set ("1") on bootable images.
	LabelBootc = "containers.bootc"
	// LabelVersion is the OCI version label (org.opencontainers.image.version).
	LabelVersion = "org.opencontainers.image.version"
	// LabelLegacyVersion is the older "version" label.
	LabelLegacyVersion = "version"
	// MetaVersion is the ostree commit metadata key of the version.
	MetaVersion = "version"
)

// Layout is how the layers of an ostree-native image divide: the commit layer (always
// the first), the chunk ("object set") layers up to and including the one whose diff ID
// the final-diffid label names, and the derived layers after it.
type Layout struct {
	// Commit is the commit the ostree.commit label names ("" when the label is missing).
	Commit string
	// FinalDiffID is the ostree.final-diffid label.
	FinalDiffID string
	// Chunks are the indexes of the chunk layers, in manifest order.
	Chunks []int
	// Derived is the index of the first derived layer (the number of layers when there
	// are none).
	Derived int
}

// imageConfig is the part of an image config the layout needs. Like deploy's, it is not
// image-spec's v1.Image, whose time-typed "created" would refuse configs upstream
// (oci-spec, created as a string) reads.
type imageConfig struct {
	Config struct {
		Labels map[string]string `json:"Labels"`
	} `json:"config"`
	RootFS struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// imageManifest is the part of a manifest the layout needs.
type imageManifest struct {
	Layers []struct {
		Digest      string            `json:"digest"`
		Annotations map[string]string `json:"annotations"`
	} `json:"layers"`
}

// Labels returns the config labels of an image config.
func Labels(config []byte) (map[string]string, error) {
	var cfg imageConfig
	if err := json.Unmarshal(config, &cfg); err != nil {
		return nil, fmt.Errorf("parsing image config: %w", err)
	}
	return cfg.Config.Labels, nil
}

// ParseLayout reads the layout of an image from its manifest and config. It returns nil
// (and no error) for an image that is not ostree-native, as upstream does when the
// final-diffid label is missing.
func ParseLayout(manifest, config []byte) (*Layout, error) {
	var cfg imageConfig
	if err := json.Unmarshal(config, &cfg); err != nil {
		return nil, fmt.Errorf("parsing image config: %w", err)
	}
	target, ok := cfg.Config.Labels[LabelFinalDiffID]
	if !ok {
		return nil, nil
	}
	var man imageManifest
	if err := json.Unmarshal(manifest, &man); err != nil {
		return nil, fmt.Errorf("parsing image manifest: %w", err)
	}
	if len(man.Layers) == 0 {
		return nil, fmt.Errorf("ostree-native image has no layers")
	}
	if len(man.Layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("image has %d layers but %d diff IDs", len(man.Layers), len(cfg.RootFS.DiffIDs))
	}
	l := &Layout{Commit: cfg.Config.Labels[LabelCommit], FinalDiffID: target, Derived: -1}
	for i, d := range cfg.RootFS.DiffIDs {
		if d != target {
			continue
		}
		if l.Derived >= 0 {
			return nil, fmt.Errorf("label %s=%s names more than one layer", LabelFinalDiffID, target)
		}
		l.Derived = i + 1
	}
	if l.Derived < 0 {
		return nil, fmt.Errorf("label %s=%s names no layer of the image", LabelFinalDiffID, target)
	}
	for i := 1; i < l.Derived; i++ {
		l.Chunks = append(l.Chunks, i)
	}
	return l, nil
}
