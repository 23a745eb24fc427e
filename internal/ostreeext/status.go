package ostreeext

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/ostree"
)

// State is what status shows of an imported image beyond its manifest and config.
type State struct {
	// Native is set for ostree-native images.
	Native bool
	// BaseCommit is the ostree commit the image encapsulates: the image commit's parent,
	// which is the commit of its first layer (upstream's base_commit; "" for other images).
	BaseCommit string
	// Version is the image's version: the config label org.opencontainers.image.version,
	// else the label version (upstream's version_for_config), else for ostree-native
	// images the base commit's version metadata.
	Version string
}

// ImageState reads the State of the image commit commit (as ImportImage wrote it).
func ImageState(ctx context.Context, repo *ostree.Repo, commit string) (*State, error) {
	c, err := repo.ReadCommit(ctx, commit)
	if err != nil {
		return nil, err
	}
	cfg, _ := c.Metadata[importer.MetaConfig].(string)
	man, _ := c.Metadata[importer.MetaManifest].(string)
	st := &State{}
	labels, err := Labels([]byte(cfg))
	if err != nil {
		return nil, fmt.Errorf("image commit %s: %w", commit, err)
	}
	st.Version = VersionFromLabels(labels)
	layout, err := ParseLayout([]byte(man), []byte(cfg))
	if err != nil || layout == nil {
		return st, nil
	}
	st.Native = true
	st.BaseCommit = c.Parent
	if st.Version == "" && c.Parent != "" {
		if base, err := repo.ReadCommit(ctx, c.Parent); err == nil {
			st.Version, _ = base.Metadata[MetaVersion].(string)
		}
	}
	return st, nil
}

// VersionFromLabels is upstream's version_for_config: the OCI version label, else the
// legacy version label.
func VersionFromLabels(labels map[string]string) string {
	if v, ok := labels[LabelVersion]; ok {
		return v
	}
	return labels[LabelLegacyVersion]
}

// ConfigVersion is VersionFromLabels of a raw image config ("" when it does not parse).
func ConfigVersion(config []byte) string {
	var cfg imageConfig
	if json.Unmarshal(config, &cfg) != nil {
		return ""
	}
	return VersionFromLabels(cfg.Config.Labels)
}
