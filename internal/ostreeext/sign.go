package ostreeext

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/ostree"
)

// RemoteKeys are the GPG keyrings of an ostree remote.
type RemoteKeys struct {
	// Remote is the remote's name.
	Remote string
	// Keyrings are keyring files and KeyringDirs directories of keyring files.
	Keyrings, KeyringDirs []string
}

// ErrNoRemote is returned (wrapped) by LookupRemote for a remote no configuration names.
var ErrNoRemote = errors.New("no such ostree remote")

// LookupRemote finds the configuration of remote as libostree does: the [remote "NAME"]
// group of the repository's config, else of /etc/ostree/remotes.d/*.conf under sysroot
// ("" or "/" for the host). Its keys are the files or directories gpgkeypath= lists
// (separated by ';' or ','; absolute paths are taken under sysroot) and the remote's
// keyring REPO/NAME.trustedkeys.gpg when it exists. A remote with gpg-verify=false, or
// without keys, is an error: there would be nothing to verify the commit with
// (libostree 2022.7 as Debian builds it has no ed25519 signatures).
func LookupRemote(sysroot, repoPath, remote string) (*RemoteKeys, error) {
	group := fmt.Sprintf("remote %q", remote)
	var kf *ostree.KeyFile
	var where string
	candidates := []string{filepath.Join(repoPath, "config")}
	confs, _ := filepath.Glob(filepath.Join(sysroot, "etc", "ostree", "remotes.d", "*.conf"))
	sort.Strings(confs)
	candidates = append(candidates, confs...)
	for _, path := range candidates {
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ostree remote %s: %w", remote, err)
		}
		f, err := ostree.ParseKeyFile(string(data))
		if err != nil {
			return nil, fmt.Errorf("ostree remote %s: parsing %s: %w", remote, path, err)
		}
		for _, g := range f.Groups() {
			if g == group {
				kf, where = f, path
			}
		}
		if kf != nil {
			break
		}
	}
	if kf == nil {
		return nil, fmt.Errorf("ostree remote %s: %w (looked in %s and %s)", remote, ErrNoRemote,
			filepath.Join(repoPath, "config"), filepath.Join(sysroot, "etc/ostree/remotes.d"))
	}
	if v, ok := kf.Get(group, "gpg-verify"); ok && (v == "false" || v == "0") {
		return nil, fmt.Errorf("ostree remote %s (%s) has gpg-verify=false: no signature to verify the commit with", remote, where)
	}
	keys := &RemoteKeys{Remote: remote}
	if v, ok := kf.Get(group, "gpgkeypath"); ok {
		for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' }) {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			if filepath.IsAbs(p) {
				p = filepath.Join(sysroot, p)
			}
			st, err := os.Stat(p)
			if err != nil {
				return nil, fmt.Errorf("ostree remote %s: gpgkeypath: %w", remote, err)
			}
			if st.IsDir() {
				keys.KeyringDirs = append(keys.KeyringDirs, p)
			} else {
				keys.Keyrings = append(keys.Keyrings, p)
			}
		}
	}
	if p := filepath.Join(repoPath, remote+".trustedkeys.gpg"); fileExists(p) {
		keys.Keyrings = append(keys.Keyrings, p)
	}
	if len(keys.Keyrings)+len(keys.KeyringDirs) == 0 {
		return nil, fmt.Errorf("ostree remote %s (%s) has no GPG keys (gpgkeypath= or %s.trustedkeys.gpg)", remote, where, remote)
	}
	return keys, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// RemoteVerifier returns the Verifier for ostree-remote-image:REMOTE:... references:
// the commit must carry a valid GPG signature by one of the remote's keys. sysroot is the
// root the remote configuration is read under ("" or "/" for the host).
func RemoteVerifier(sysroot string, repo *ostree.Repo, remote string) (Verifier, error) {
	keys, err := LookupRemote(sysroot, repo.Path(), remote)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, commit, commitmeta []byte) (string, error) {
		if len(commitmeta) == 0 {
			return "", fmt.Errorf("not signed: no detached metadata, required by ostree remote %s", remote)
		}
		var errs []string
		try := func(dir, file string) (string, bool) {
			text, err := repo.VerifyCommitGPG(ctx, commit, commitmeta, dir, file)
			if err != nil {
				errs = append(errs, err.Error())
				return "", false
			}
			return text, true
		}
		for _, f := range keys.Keyrings {
			if text, ok := try("", f); ok {
				return text, nil
			}
		}
		for _, d := range keys.KeyringDirs {
			if text, ok := try(d, ""); ok {
				return text, nil
			}
		}
		return "", fmt.Errorf("no valid signature by the keys of ostree remote %s: %s", remote, strings.Join(dedup(errs), "; "))
	}, nil
}

func dedup(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		s = strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// VerifierFor returns the Verifier an image reference asks for: for
// ostree-remote-image:REMOTE:... the remote's GPG keys under sysroot ("" or "/" for the
// host; the repository's own config is read first), nil for every other reference (their
// signatures are containers/image's business).
func VerifierFor(ref imgref.OstreeImageReference, sysroot string, repo *ostree.Repo) (Verifier, error) {
	if ref.Sigverify.Kind != imgref.SigVerifyOstreeRemote {
		return nil, nil
	}
	v, err := RemoteVerifier(sysroot, repo, ref.Sigverify.Remote)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return v, nil
}
