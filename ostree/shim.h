/* C shims between Go and libostree/GLib.
 *
 * Rules (see doc.go): every fallible shim returns a gboolean (or a pointer that is NULL on
 * failure) and fills a GError ** that the caller started at NULL. No floating GVariant ever
 * leaves a shim: shims that build variants return them ref-sunk. Strings returned to Go are
 * g_malloc'd and freed by Go with g_free. */
#ifndef BOOTC_OSTREE_SHIM_H
#define BOOTC_OSTREE_SHIM_H

#include <ostree.h>
#include <gio/gio.h>

/* Errors */
const char *bootc_error_domain (const GError *err);
GQuark bootc_io_error_quark (void);
gboolean bootc_set_cancelled (GCancellable *c, GError **error);

/* Variants */
GVariant *bootc_variant_string (const char *s);
GVariant *bootc_variant_bytes (const guint8 *buf, gsize len);
GVariant *bootc_variant_bytestring (const char *s);
GVariant *bootc_variant_u64 (guint64 v);
GVariant *bootc_variant_i64 (gint64 v);
GVariant *bootc_variant_u32 (guint32 v);
GVariant *bootc_variant_i32 (gint32 v);
GVariant *bootc_variant_bool (gboolean v);
GVariant *bootc_variant_strv (const char *const *strv, gssize n);
GVariantBuilder *bootc_builder_new (const char *type);
gboolean bootc_builder_add_entry (GVariantBuilder *b, const char *key, GVariant *value);
void bootc_builder_add_xattr (GVariantBuilder *b, const char *name, const guint8 *value, gsize len);
GVariant *bootc_builder_end (GVariantBuilder *b);
const char *bootc_variant_type (GVariant *v);
gboolean bootc_variant_is_asv (GVariant *v);
gsize bootc_variant_n_children (GVariant *v);
GVariant *bootc_variant_child (GVariant *v, gsize i);
const char *bootc_variant_get_string (GVariant *v);
guint64 bootc_variant_get_u64 (GVariant *v);
gint64 bootc_variant_get_i64 (GVariant *v);
guint32 bootc_variant_get_u32 (GVariant *v);
gint32 bootc_variant_get_i32 (GVariant *v);
gboolean bootc_variant_get_bool (GVariant *v);
const guint8 *bootc_variant_get_bytes (GVariant *v, gsize *len);
GVariant *bootc_variant_get_variant (GVariant *v);
char *bootc_variant_print (GVariant *v);

/* Repo */
OstreeRepo *bootc_repo_open (const char *path, GCancellable *c, GError **error);
OstreeRepo *bootc_repo_create (const char *path, OstreeRepoMode mode, GCancellable *c, GError **error);
OstreeRepoMode bootc_repo_mode (OstreeRepo *repo);
char *bootc_repo_write_regfile_inline (OstreeRepo *repo, guint32 uid, guint32 gid, guint32 mode,
                                       GVariant *xattrs, const guint8 *buf, gsize len,
                                       GCancellable *c, GError **error);
OstreeContentWriter *bootc_repo_write_regfile (OstreeRepo *repo, guint32 uid, guint32 gid,
                                               guint32 mode, guint64 len, GVariant *xattrs,
                                               GError **error);
gboolean bootc_content_writer_write (OstreeContentWriter *w, const guint8 *buf, gsize len,
                                     GCancellable *c, GError **error);
char *bootc_content_writer_finish (OstreeContentWriter *w, GCancellable *c, GError **error);
/* Writes the regular file of len bytes at fd as a content object (checked against expected
 * unless NULL) and returns its checksum (g_free). */
char *bootc_repo_write_content_fd (OstreeRepo *repo, const char *expected, int fd, guint32 uid,
                                   guint32 gid, guint32 mode, guint64 len, GVariant *xattrs,
                                   GCancellable *c, GError **error);
char *bootc_repo_write_symlink (OstreeRepo *repo, guint32 uid, guint32 gid, GVariant *xattrs,
                                const char *target, GCancellable *c, GError **error);
char *bootc_repo_write_dirmeta (OstreeRepo *repo, guint32 uid, guint32 gid, guint32 mode,
                                GVariant *xattrs, GCancellable *c, GError **error);
char *bootc_repo_write_commit (OstreeRepo *repo, OstreeMutableTree *mtree, const char *parent,
                               const char *subject, const char *body, GVariant *metadata,
                               guint64 timestamp, GCancellable *c, GError **error);
gboolean bootc_repo_load_commit (OstreeRepo *repo, const char *checksum, GVariant **out_commit,
                                 gboolean *out_partial, GError **error);
char *bootc_checksum_from_variant (GVariant *v);
gboolean bootc_repo_read_detached (OstreeRepo *repo, const char *checksum, GVariant **out,
                                   GCancellable *c, GError **error);
gboolean bootc_repo_write_detached (OstreeRepo *repo, const char *checksum, GVariant *meta,
                                    GCancellable *c, GError **error);
gboolean bootc_repo_file_size (OstreeRepo *repo, const char *checksum, guint64 *out_size,
                               GCancellable *c, GError **error);
gboolean bootc_repo_load_file (OstreeRepo *repo, const char *checksum, guint64 max_content,
                               guint32 *out_mode, guint32 *out_uid, guint32 *out_gid,
                               guint64 *out_size, char **out_target, guint8 **out_content,
                               gsize *out_len, GCancellable *c, GError **error);
gboolean bootc_repo_has_object (OstreeRepo *repo, OstreeObjectType type, const char *checksum,
                                gboolean *out_have, GCancellable *c, GError **error);
char *bootc_repo_resolve (OstreeRepo *repo, const char *refspec, gboolean allow_noent,
                          GError **error);
gboolean bootc_repo_set_ref (OstreeRepo *repo, const char *ref, const char *checksum,
                             GCancellable *c, GError **error);
/* fsck_commit verifies every object reachable from commit: it exists and its content hashes
 * to its name. It returns a NULL-terminated array (g_strfreev) of "TYPE CHECKSUM: reason" for
 * the objects that fail, empty when all pass, and the number of objects checked; NULL only
 * when cancelled. */
char **bootc_repo_fsck_commit (OstreeRepo *repo, const char *commit, guint *out_objects,
                               GCancellable *c, GError **error);
/* list_refs returns a NULL-terminated array alternating ref, checksum; g_strfreev it. */
char **bootc_repo_list_refs (OstreeRepo *repo, const char *prefix, GCancellable *c, GError **error);
gboolean bootc_sysroot_prune_repo (OstreeSysroot *s, gint *out_total, gint *out_pruned,
                                   guint64 *out_size, GCancellable *c, GError **error);
gboolean bootc_repo_prune (OstreeRepo *repo, OstreeRepoPruneFlags flags, gint depth,
                           gint *out_total, gint *out_pruned, guint64 *out_size,
                           GCancellable *c, GError **error);
gboolean bootc_repo_checkout (OstreeRepo *repo, const char *rev, const char *dest,
                              const char *subpath, gboolean user_mode, int overwrite_mode,
                              gboolean process_whiteouts, gboolean force_copy,
                              gboolean no_copy_fallback, GCancellable *c, GError **error);
gboolean bootc_repo_config_set (OstreeRepo *repo, const char *group, const char *key,
                                const char *value, GError **error);
char *bootc_repo_config_get (OstreeRepo *repo, const char *group, const char *key);

/* Mutable tree */
OstreeMutableTree *bootc_mtree_from_commit (OstreeRepo *repo, const char *rev, GError **error);
OstreeMutableTree *bootc_mtree_ensure_dir (OstreeMutableTree *t, const char *name, GError **error);
OstreeMutableTree *bootc_mtree_walk (OstreeMutableTree *t, const char *const *path, gsize n,
                                     GError **error);
gboolean bootc_mtree_lookup (OstreeMutableTree *t, const char *name, char **out_file,
                             OstreeMutableTree **out_subdir, GError **error);
char **bootc_mtree_list (OstreeMutableTree *t, gboolean dirs, GError **error);

/* Sysroot */
OstreeSysroot *bootc_sysroot_new (const char *path);
OstreeDeployment *bootc_sysroot_deploy (OstreeSysroot *s, gboolean stage, const char *osname,
                                        const char *revision, GKeyFile *origin,
                                        OstreeDeployment *merge, char **kargs,
                                        GCancellable *c, GError **error);
gboolean bootc_sysroot_write_deployments (OstreeSysroot *s, OstreeDeployment **deps, gsize n,
                                          gboolean postclean, GCancellable *c, GError **error);
OstreeDeployment *bootc_deployment_index (GPtrArray *arr, guint i);
const char *bootc_deployment_options (OstreeDeployment *d);

#endif
