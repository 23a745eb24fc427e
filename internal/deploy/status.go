package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/internal/spec"
	"github.com/bootc-go/bootc/ostree"
)

// OriginGroup and OriginImageKey locate the container image reference in an origin file.
const (
	OriginGroup    = "origin"
	OriginImageKey = "container-image-reference"
)

// Detached metadata keys of a pending update found by `upgrade --check` (upstream's).
const (
	CachedManifestDigest = "ostree-ext.cached.manifest-digest"
	CachedManifest       = "ostree-ext.cached.manifest"
	CachedConfig         = "ostree-ext.cached.config"
)

// rpmostreeGroups are origin groups that make a deployment incompatible with bootc.
var rpmostreeGroups = []string{"rpmostree", "packages", "overrides", "modules"}

// rpmostreeGroup returns the first rpm-ostree origin group of d ("" when there is none):
// such a deployment has local package changes bootc cannot represent.
func rpmostreeGroup(d *ostree.Deployment) string {
	if d == nil || d.Origin == nil {
		return ""
	}
	for _, have := range d.Origin.Groups() {
		if slices.Contains(rpmostreeGroups, have) {
			return have
		}
	}
	return ""
}

// Deployments is a sysroot's deployments sorted into bootc's slots.
type Deployments struct {
	Staged, Booted, Rollback *ostree.Deployment
	Other                    []*ostree.Deployment
	// RollbackQueued is set when the rollback deployment boots before the booted one.
	RollbackQueued bool
	// Offline is set when the sysroot is not the running system: Booted is then the
	// deployment that boots next.
	Offline bool
}

// Classify sorts the loaded deployments of sr as upstream's status does. On an offline
// sysroot the deployment that boots next takes the booted slot.
func Classify(sr *ostree.Sysroot) (*Deployments, error) {
	all, err := sr.Deployments()
	if err != nil {
		return nil, err
	}
	return classify(all, sr.Booted()), nil
}

// classify sorts all (in boot order) into slots around booted, the booted deployment (nil
// on an offline sysroot).
func classify(all []*ostree.Deployment, booted *ostree.Deployment) *Deployments {
	out := &Deployments{}
	if booted == nil {
		out.Offline = true
		for _, d := range all {
			if !d.Staged {
				booted = d
				break
			}
		}
	}
	if booted == nil {
		return out
	}
	out.Booted = booted
	var related []*ostree.Deployment
	for _, d := range all {
		switch {
		case d.Equal(booted):
		case d.Staged && out.Staged == nil:
			// As upstream (the sysroot's staged deployment): install reset stages into
			// another stateroot.
			out.Staged = d
		case d.Stateroot != booted.Stateroot:
			out.Other = append(out.Other, d)
		default:
			related = append(related, d)
		}
	}
	if len(related) > 0 {
		out.Rollback = related[0]
		out.Other = append(related[1:], out.Other...)
		out.RollbackQueued = !out.Offline && out.Rollback.Index < booted.Index
	}
	return out
}

// ImageRefOf returns the container image reference of a deployment's origin, or nil when
// the deployment was not made from a container image.
func ImageRefOf(d *ostree.Deployment) (*imgref.OstreeImageReference, error) {
	if d != nil && d.OriginErr != nil {
		return nil, d.OriginErr
	}
	if d == nil || d.Origin == nil {
		return nil, nil
	}
	v, ok := d.Origin.Get(OriginGroup, OriginImageKey)
	if !ok {
		return nil, nil
	}
	r, err := imgref.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("origin of deployment %s.%d: %w", d.Checksum, d.Serial, err)
	}
	return &r, nil
}

// SpecImageRef converts an ostree image reference into the status API form.
func SpecImageRef(r imgref.OstreeImageReference) spec.ImageReference {
	out := spec.ImageReference{Image: r.Imgref.Name, Transport: r.Imgref.Transport.String()}
	switch r.Sigverify.Kind {
	case imgref.SigVerifyContainerPolicy:
		out.Signature = spec.ContainerPolicySignature()
	case imgref.SigVerifyOstreeRemote:
		out.Signature = spec.OstreeRemoteSignature(r.Sigverify.Remote)
	}
	return out
}

// imageConfig is the part of the OCI config status reads. It is not image-spec's v1.Image
// on purpose: that type decodes "created" as a time, so a config whose created is not RFC
// 3339 would fail to decode whole and status would lose its architecture and version too;
// upstream (oci-spec) reads created as a string, and so does this.
type imageConfig struct {
	Architecture string `json:"architecture"`
	Created      string `json:"created"`
	Config       struct {
		Labels map[string]string `json:"Labels"`
	} `json:"config"`
}

// imageStatus builds an ImageStatus from a manifest digest and config JSON.
func imageStatus(ref spec.ImageReference, digest, config string) spec.ImageStatus {
	st := spec.ImageStatus{Image: ref, ImageDigest: digest}
	var cfg imageConfig
	if json.Unmarshal([]byte(config), &cfg) != nil {
		return st
	}
	st.Architecture = cfg.Architecture
	labels := cfg.Config.Labels
	if v, ok := labels["org.opencontainers.image.version"]; ok {
		st.Version = &v
	} else if v, ok := labels["version"]; ok {
		st.Version = &v
	}
	ts := labels["org.opencontainers.image.created"]
	if ts == "" {
		ts = cfg.Created
	}
	if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
		t = t.UTC()
		st.Timestamp = &t
	}
	return st
}

// BootEntry describes one deployment as the status API does.
func BootEntry(ctx context.Context, repo *ostree.Repo, d *ostree.Deployment) (*spec.BootEntry, error) {
	store := spec.StoreOstreeContainer
	e := &spec.BootEntry{
		Pinned:       d.Pinned,
		DownloadOnly: d.Staged && ostree.StagedLocked(),
		Store:        &store,
		Ostree:       &spec.BootEntryOstree{Checksum: d.Checksum, DeploySerial: d.Serial, Stateroot: d.Stateroot},
	}
	e.Incompatible = rpmostreeGroup(d) != ""
	if e.Incompatible {
		return e, nil
	}
	ref, err := ImageRefOf(d)
	if err != nil || ref == nil {
		return e, err
	}
	sref := SpecImageRef(*ref)
	c, err := repo.ReadCommit(ctx, d.Checksum)
	if errors.Is(err, fs.ErrNotExist) {
		// The commit is missing from the repository: status still describes the
		// deployment, with its image reference but no digest or configuration.
		img := imageStatus(sref, "", "")
		e.Image = &img
		return e, nil
	}
	if err != nil {
		return nil, fmt.Errorf("deployment %s.%d: %w", d.Checksum, d.Serial, err)
	}
	digest, _ := c.Metadata[importer.MetaManifestDigest].(string)
	config, _ := c.Metadata[importer.MetaConfig].(string)
	img := imageStatus(sref, digest, config)
	e.Image = &img
	det, err := repo.ReadDetachedMetadata(ctx, d.Checksum)
	if err != nil {
		return nil, err
	}
	if cd, _ := det[CachedManifestDigest].(string); cd != "" && cd != digest {
		cc, _ := det[CachedConfig].(string)
		cached := imageStatus(sref, cd, cc)
		e.CachedUpdate = &cached
	}
	return e, nil
}

// Status builds the BootcHost document for the sysroot (loaded) and its repository.
func Status(ctx context.Context, sr *ostree.Sysroot, repo *ostree.Repo) (*spec.Host, *Deployments, error) {
	ds, err := Classify(sr)
	if err != nil {
		return nil, nil, err
	}
	entry := func(d *ostree.Deployment) (*spec.BootEntry, error) {
		if d == nil {
			return nil, nil
		}
		return BootEntry(ctx, repo, d)
	}
	var st spec.HostStatus
	if st.Staged, err = entry(ds.Staged); err != nil {
		return nil, nil, err
	}
	if st.Booted, err = entry(ds.Booted); err != nil {
		return nil, nil, err
	}
	if st.Rollback, err = entry(ds.Rollback); err != nil {
		return nil, nil, err
	}
	for _, d := range ds.Other {
		e, err := entry(d)
		if err != nil {
			return nil, nil, err
		}
		st.OtherDeployments = append(st.OtherDeployments, *e)
	}
	st.RollbackQueued = ds.RollbackQueued
	if st.Booted != nil && st.Booted.Image != nil {
		t := spec.HostTypeBootcHost
		st.Type = &t
	}
	if ds.Booted != nil && !ds.Offline {
		st.UsrOverlay = spec.UsrOverlayFromUnlocked(string(ds.Booted.Unlocked))
	}
	hs := spec.HostSpec{BootOrder: spec.BootOrderDefault}
	if ds.RollbackQueued {
		hs.BootOrder = spec.BootOrderRollback
	}
	for _, e := range []*spec.BootEntry{st.Staged, st.Booted} {
		if e != nil && e.Image != nil {
			img := e.Image.Image
			hs.Image = &img
			break
		}
	}
	h := spec.NewHost(hs)
	h.Status = st
	return h, ds, nil
}
