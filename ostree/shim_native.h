/* C shims for importing and exporting ostree-native (encapsulated) container images:
 * writing objects under an expected checksum (libostree verifies it), writing metadata
 * objects from their serialized bytes, reading raw objects back, and GPG verification of
 * commit data. Same rules as shim.h: fallible shims return gboolean or a pointer that is
 * NULL on failure and fill a GError ** that starts NULL; no floating variant leaves a shim;
 * strings and buffers returned are g_malloc'd. */
#ifndef BOOTC_OSTREE_SHIM_NATIVE_H
#define BOOTC_OSTREE_SHIM_NATIVE_H

#include <ostree.h>
#include <gio/gio.h>

/* xattrs: serialized a(ayay) (NULL/0 for none). */
gboolean bootc_native_write_regfile_inline (OstreeRepo *repo, const char *expected, guint32 uid,
                                            guint32 gid, guint32 mode, const guint8 *xattrs,
                                            gsize xattrs_len, const guint8 *buf, gsize len,
                                            GCancellable *c, GError **error);
OstreeContentWriter *bootc_native_write_regfile (OstreeRepo *repo, const char *expected,
                                                 guint32 uid, guint32 gid, guint32 mode,
                                                 guint64 len, const guint8 *xattrs,
                                                 gsize xattrs_len, GError **error);
gboolean bootc_native_write_content_fd (OstreeRepo *repo, const char *expected, int fd,
                                        guint32 uid, guint32 gid, guint32 mode, guint64 len,
                                        const guint8 *xattrs, gsize xattrs_len,
                                        GCancellable *c, GError **error);
gboolean bootc_native_write_symlink (OstreeRepo *repo, const char *expected, guint32 uid,
                                     guint32 gid, const guint8 *xattrs, gsize xattrs_len,
                                     const char *target, GCancellable *c, GError **error);
gboolean bootc_native_write_metadata (OstreeRepo *repo, OstreeObjectType type,
                                      const char *expected, const guint8 *buf, gsize len,
                                      GCancellable *c, GError **error);
gboolean bootc_native_write_detached (OstreeRepo *repo, const char *checksum,
                                      const guint8 *buf, gsize len, GCancellable *c,
                                      GError **error);

/* Raw serialized bytes of a metadata object (commit, dirtree, dirmeta), of a commit's
 * detached metadata (*out NULL when there is none), of a file object's xattrs. */
guint8 *bootc_native_load_object (OstreeRepo *repo, OstreeObjectType type, const char *checksum,
                                  gsize *out_len, GError **error);
gboolean bootc_native_load_detached (OstreeRepo *repo, const char *checksum, guint8 **out,
                                     gsize *out_len, GCancellable *c, GError **error);
guint8 *bootc_native_file_xattrs (OstreeRepo *repo, const char *checksum, gsize *out_len,
                                  GCancellable *c, GError **error);

/* Dirtree listing: NULL-terminated arrays (g_strfreev) of file names and checksums, and
 * of subdirectory names, contents checksums and metadata checksums. */
gboolean bootc_native_read_dirtree (OstreeRepo *repo, const char *checksum, char ***files,
                                    char ***file_csums, char ***dirs, char ***dir_trees,
                                    char ***dir_metas, GError **error);
gboolean bootc_native_read_dirmeta (OstreeRepo *repo, const char *checksum, guint32 *uid,
                                    guint32 *gid, guint32 *mode, GError **error);

/* Verifies the GPG signatures in the detached metadata commitmeta (serialized a{sv}, key
 * ostree.gpgsigs) over commit (the serialized commit object) against the keys in keyring
 * (a file) or keyringdir (a directory; either may be NULL). Requires at least one valid
 * signature; *out_text describes the signatures. */
gboolean bootc_native_gpg_verify (OstreeRepo *repo, const guint8 *commit, gsize commit_len,
                                  const guint8 *commitmeta, gsize commitmeta_len,
                                  const char *keyringdir, const char *keyring, char **out_text,
                                  GCancellable *c, GError **error);

#endif
