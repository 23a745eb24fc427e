/* C shims between Go and libostree/GLib; see shim.h for the rules. */
#include "shim.h"

#include <string.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>

/* ---- Errors ---- */

const char *
bootc_error_domain (const GError *err)
{
  return g_quark_to_string (err->domain);
}

GQuark
bootc_io_error_quark (void)
{
  return G_IO_ERROR;
}

gboolean
bootc_set_cancelled (GCancellable *c, GError **error)
{
  return g_cancellable_set_error_if_cancelled (c, error);
}

/* ---- Variants ---- */

static GVariant *
sink (GVariant *v)
{
  /* g_variant_new_string and friends return NULL (after a GLib-CRITICAL) on input they
   * refuse, such as invalid UTF-8: pass the NULL on for the caller to report. */
  return v == NULL ? NULL : g_variant_ref_sink (v);
}

GVariant *bootc_variant_string (const char *s) { return sink (g_variant_new_string (s)); }
GVariant *bootc_variant_bytestring (const char *s) { return sink (g_variant_new_bytestring (s)); }
GVariant *bootc_variant_u64 (guint64 v) { return sink (g_variant_new_uint64 (v)); }
GVariant *bootc_variant_i64 (gint64 v) { return sink (g_variant_new_int64 (v)); }
GVariant *bootc_variant_u32 (guint32 v) { return sink (g_variant_new_uint32 (v)); }
GVariant *bootc_variant_i32 (gint32 v) { return sink (g_variant_new_int32 (v)); }
GVariant *bootc_variant_bool (gboolean v) { return sink (g_variant_new_boolean (v)); }

GVariant *
bootc_variant_bytes (const guint8 *buf, gsize len)
{
  return sink (g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, buf, len, 1));
}

GVariant *
bootc_variant_strv (const char *const *strv, gssize n)
{
  return sink (g_variant_new_strv (strv, n));
}

GVariantBuilder *
bootc_builder_new (const char *type)
{
  return g_variant_builder_new (G_VARIANT_TYPE (type));
}

gboolean
bootc_builder_add_entry (GVariantBuilder *b, const char *key, GVariant *value)
{
  if (key == NULL || value == NULL || !g_utf8_validate (key, -1, NULL))
    return FALSE;
  g_variant_builder_add (b, "{sv}", key, value);
  return TRUE;
}

void
bootc_builder_add_xattr (GVariantBuilder *b, const char *name, const guint8 *value, gsize len)
{
  g_variant_builder_add (b, "(@ay@ay)", g_variant_new_bytestring (name),
                         g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, value, len, 1));
}

GVariant *
bootc_builder_end (GVariantBuilder *b)
{
  GVariant *v = sink (g_variant_builder_end (b));
  g_variant_builder_unref (b);
  return v;
}

const char *bootc_variant_type (GVariant *v) { return g_variant_get_type_string (v); }
gboolean bootc_variant_is_asv (GVariant *v) { return g_variant_is_of_type (v, G_VARIANT_TYPE_VARDICT); }
gsize bootc_variant_n_children (GVariant *v) { return g_variant_n_children (v); }
GVariant *bootc_variant_child (GVariant *v, gsize i) { return g_variant_get_child_value (v, i); }
const char *bootc_variant_get_string (GVariant *v) { return g_variant_get_string (v, NULL); }
guint64 bootc_variant_get_u64 (GVariant *v) { return g_variant_get_uint64 (v); }
gint64 bootc_variant_get_i64 (GVariant *v) { return g_variant_get_int64 (v); }
guint32 bootc_variant_get_u32 (GVariant *v) { return g_variant_get_uint32 (v); }
gint32 bootc_variant_get_i32 (GVariant *v) { return g_variant_get_int32 (v); }
gboolean bootc_variant_get_bool (GVariant *v) { return g_variant_get_boolean (v); }
GVariant *bootc_variant_get_variant (GVariant *v) { return g_variant_get_variant (v); }
char *bootc_variant_print (GVariant *v) { return g_variant_print (v, TRUE); }

const guint8 *
bootc_variant_get_bytes (GVariant *v, gsize *len)
{
  return g_variant_get_fixed_array (v, len, 1);
}

/* ---- Repo ---- */

OstreeRepo *
bootc_repo_open (const char *path, GCancellable *c, GError **error)
{
  return ostree_repo_open_at (AT_FDCWD, path, c, error);
}

OstreeRepo *
bootc_repo_create (const char *path, OstreeRepoMode mode, GCancellable *c, GError **error)
{
  return ostree_repo_create_at (AT_FDCWD, path, mode, NULL, c, error);
}

OstreeRepoMode
bootc_repo_mode (OstreeRepo *repo)
{
  return ostree_repo_get_mode (repo);
}

char *
bootc_repo_write_regfile_inline (OstreeRepo *repo, guint32 uid, guint32 gid, guint32 mode,
                                 GVariant *xattrs, const guint8 *buf, gsize len,
                                 GCancellable *c, GError **error)
{
  return ostree_repo_write_regfile_inline (repo, NULL, uid, gid, mode, xattrs, buf, len, c, error);
}

OstreeContentWriter *
bootc_repo_write_regfile (OstreeRepo *repo, guint32 uid, guint32 gid, guint32 mode, guint64 len,
                          GVariant *xattrs, GError **error)
{
  return ostree_repo_write_regfile (repo, NULL, uid, gid, mode, len, xattrs, error);
}

gboolean
bootc_content_writer_write (OstreeContentWriter *w, const guint8 *buf, gsize len,
                            GCancellable *c, GError **error)
{
  return g_output_stream_write_all (G_OUTPUT_STREAM (w), buf, len, NULL, c, error);
}

char *
bootc_content_writer_finish (OstreeContentWriter *w, GCancellable *c, GError **error)
{
  return ostree_content_writer_finish (w, c, error);
}

char *
bootc_repo_write_content_fd (OstreeRepo *repo, const char *expected, int fd, guint32 uid,
                             guint32 gid, guint32 mode, guint64 len, GVariant *xattrs,
                             GCancellable *c, GError **error)
{
  g_autoptr(GFileInfo) info = g_file_info_new ();
  g_file_info_set_file_type (info, G_FILE_TYPE_REGULAR);
  g_file_info_set_size (info, len);
  g_file_info_set_attribute_uint32 (info, "unix::uid", uid);
  g_file_info_set_attribute_uint32 (info, "unix::gid", gid);
  g_file_info_set_attribute_uint32 (info, "unix::mode", mode);
  g_autoptr(GInputStream) raw = g_unix_input_stream_new (fd, FALSE);
  g_autoptr(GInputStream) content = NULL;
  guint64 content_len = 0;
  if (!ostree_raw_file_to_content_stream (raw, info, xattrs, &content, &content_len, c, error))
    return NULL;
  g_autofree guchar *csum = NULL;
  if (!ostree_repo_write_content (repo, expected, content, content_len, &csum, c, error))
    return NULL;
  return ostree_checksum_from_bytes (csum);
}

char *
bootc_repo_write_symlink (OstreeRepo *repo, guint32 uid, guint32 gid, GVariant *xattrs,
                          const char *target, GCancellable *c, GError **error)
{
  return ostree_repo_write_symlink (repo, NULL, uid, gid, xattrs, target, c, error);
}

char *
bootc_repo_write_dirmeta (OstreeRepo *repo, guint32 uid, guint32 gid, guint32 mode,
                          GVariant *xattrs, GCancellable *c, GError **error)
{
  g_autoptr(GFileInfo) info = g_file_info_new ();
  g_file_info_set_attribute_uint32 (info, "unix::uid", uid);
  g_file_info_set_attribute_uint32 (info, "unix::gid", gid);
  g_file_info_set_attribute_uint32 (info, "unix::mode", mode);
  /* ostree_create_directory_metadata returns a reference that is already sunk. */
  g_autoptr(GVariant) meta = ostree_create_directory_metadata (info, xattrs);
  g_autofree guchar *csum = NULL;
  if (!ostree_repo_write_metadata (repo, OSTREE_OBJECT_TYPE_DIR_META, NULL, meta, &csum, c, error))
    return NULL;
  return ostree_checksum_from_bytes (csum);
}

char *
bootc_repo_write_commit (OstreeRepo *repo, OstreeMutableTree *mtree, const char *parent,
                         const char *subject, const char *body, GVariant *metadata,
                         guint64 timestamp, GCancellable *c, GError **error)
{
  g_autoptr(GFile) root = NULL;
  if (!ostree_repo_write_mtree (repo, mtree, &root, c, error))
    return NULL;
  char *out = NULL;
  if (!ostree_repo_write_commit_with_time (repo, parent, subject, body, metadata,
                                           OSTREE_REPO_FILE (root), timestamp, &out, c, error))
    return NULL;
  return out;
}

gboolean
bootc_repo_load_commit (OstreeRepo *repo, const char *checksum, GVariant **out_commit,
                        gboolean *out_partial, GError **error)
{
  OstreeRepoCommitState state = 0;
  if (!ostree_repo_load_commit (repo, checksum, out_commit, &state, error))
    return FALSE;
  *out_partial = (state & OSTREE_REPO_COMMIT_STATE_PARTIAL) != 0;
  return TRUE;
}

char *
bootc_checksum_from_variant (GVariant *v)
{
  if (g_variant_n_children (v) == 0)
    return NULL;
  return ostree_checksum_from_bytes_v (v);
}

gboolean
bootc_repo_read_detached (OstreeRepo *repo, const char *checksum, GVariant **out,
                          GCancellable *c, GError **error)
{
  return ostree_repo_read_commit_detached_metadata (repo, checksum, out, c, error);
}

gboolean
bootc_repo_write_detached (OstreeRepo *repo, const char *checksum, GVariant *meta,
                           GCancellable *c, GError **error)
{
  return ostree_repo_write_commit_detached_metadata (repo, checksum, meta, c, error);
}

gboolean
bootc_repo_file_size (OstreeRepo *repo, const char *checksum, guint64 *out_size,
                      GCancellable *c, GError **error)
{
  g_autoptr(GFileInfo) info = NULL;
  if (!ostree_repo_load_file (repo, checksum, NULL, &info, NULL, c, error))
    return FALSE;
  *out_size = g_file_info_get_size (info);
  return TRUE;
}

gboolean
bootc_repo_load_file (OstreeRepo *repo, const char *checksum, guint64 max_content,
                      guint32 *out_mode, guint32 *out_uid, guint32 *out_gid, guint64 *out_size,
                      char **out_target, guint8 **out_content, gsize *out_len,
                      GCancellable *c, GError **error)
{
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GFileInfo) info = NULL;
  if (!ostree_repo_load_file (repo, checksum, &in, &info, NULL, c, error))
    return FALSE;
  *out_mode = g_file_info_get_attribute_uint32 (info, "unix::mode");
  *out_uid = g_file_info_get_attribute_uint32 (info, "unix::uid");
  *out_gid = g_file_info_get_attribute_uint32 (info, "unix::gid");
  *out_size = g_file_info_get_size (info);
  *out_target = NULL;
  *out_content = NULL;
  *out_len = 0;
  if (g_file_info_get_file_type (info) == G_FILE_TYPE_SYMBOLIC_LINK)
    {
      *out_target = g_strdup (g_file_info_get_symlink_target (info));
      return TRUE;
    }
  if (in == NULL || max_content == 0)
    return TRUE;
  gsize want = MIN (*out_size, max_content);
  guint8 *buf = g_malloc (want + 1);
  gsize n = 0;
  if (!g_input_stream_read_all (in, buf, want, &n, c, error))
    {
      g_free (buf);
      return FALSE;
    }
  *out_content = buf;
  *out_len = n;
  return TRUE;
}

gboolean
bootc_repo_has_object (OstreeRepo *repo, OstreeObjectType type, const char *checksum,
                       gboolean *out_have, GCancellable *c, GError **error)
{
  return ostree_repo_has_object (repo, type, checksum, out_have, c, error);
}

char *
bootc_repo_resolve (OstreeRepo *repo, const char *refspec, gboolean allow_noent, GError **error)
{
  char *out = NULL;
  if (!ostree_repo_resolve_rev_ext (repo, refspec, allow_noent,
                                    OSTREE_REPO_RESOLVE_REV_EXT_NONE, &out, error))
    return NULL;
  return out;
}

gboolean
bootc_repo_set_ref (OstreeRepo *repo, const char *ref, const char *checksum,
                    GCancellable *c, GError **error)
{
  return ostree_repo_set_ref_immediate (repo, NULL, ref, checksum, c, error);
}

char **
bootc_repo_list_refs (OstreeRepo *repo, const char *prefix, GCancellable *c, GError **error)
{
  g_autoptr(GHashTable) refs = NULL;
  if (!ostree_repo_list_refs_ext (repo, prefix, &refs, OSTREE_REPO_LIST_REFS_EXT_NONE, c, error))
    return NULL;
  GPtrArray *out = g_ptr_array_new ();
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, refs);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      g_ptr_array_add (out, g_strdup (k));
      g_ptr_array_add (out, g_strdup (v));
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

gboolean
bootc_repo_prune (OstreeRepo *repo, OstreeRepoPruneFlags flags, gint depth, gint *out_total,
                  gint *out_pruned, guint64 *out_size, GCancellable *c, GError **error)
{
  return ostree_repo_prune (repo, flags, depth, out_total, out_pruned, out_size, c, error);
}

/* delete_unreachable_commits deletes, before a prune, every commit object that the prune
 * would delete: those that no ref and no deployment names (depth 0, as libostree's sysroot
 * cleanup counts them). libostree's prune deletes objects in hash-table order, so a process
 * killed inside it can leave a commit whose dirtree is gone, which fsck and every later
 * traversal reject. With the commits gone first, a kill anywhere leaves only unreferenced
 * objects behind, and the next prune removes them. */
static gboolean
delete_unreachable_commits (OstreeSysroot *s, GCancellable *c, GError **error)
{
  OstreeRepo *repo = ostree_sysroot_repo (s);
  g_autoptr(OstreeRepoAutoLock) lock
      = ostree_repo_auto_lock_push (repo, OSTREE_REPO_LOCK_EXCLUSIVE, c, error);
  if (lock == NULL)
    return FALSE;
  g_autoptr(GHashTable) keep = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) refs = NULL;
  if (!ostree_repo_list_refs_ext (repo, NULL, &refs, OSTREE_REPO_LIST_REFS_EXT_NONE, c, error))
    return FALSE;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, refs);
  while (g_hash_table_iter_next (&it, &k, &v))
    g_hash_table_add (keep, g_strdup (v));
  g_autoptr(GHashTable) crefs = NULL;
  if (!ostree_repo_list_collection_refs (repo, NULL, &crefs, OSTREE_REPO_LIST_REFS_EXT_NONE, c,
                                         error))
    return FALSE;
  g_hash_table_iter_init (&it, crefs);
  while (g_hash_table_iter_next (&it, &k, &v))
    g_hash_table_add (keep, g_strdup (v));
  GPtrArray *deps = ostree_sysroot_get_deployments (s);
  for (guint i = 0; i < deps->len; i++)
    g_hash_table_add (keep, g_strdup (ostree_deployment_get_csum (deps->pdata[i])));
  g_autoptr(GHashTable) commits = NULL;
  if (!ostree_repo_list_commit_objects_starting_with (repo, "", &commits, c, error))
    return FALSE;
  g_hash_table_iter_init (&it, commits);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      const char *csum;
      OstreeObjectType type;
      ostree_object_name_deserialize (k, &csum, &type);
      if (g_hash_table_contains (keep, csum))
        continue;
      if (!ostree_repo_delete_object (repo, OSTREE_OBJECT_TYPE_COMMIT, csum, c, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
bootc_sysroot_prune_repo (OstreeSysroot *s, gint *out_total, gint *out_pruned, guint64 *out_size,
                          GCancellable *c, GError **error)
{
  if (!delete_unreachable_commits (s, c, error))
    return FALSE;
  /* As ostree_sysroot_cleanup does: every ref (depth 0) and every deployment's commit is
   * reachable, whether or not the deployment refs (ostree/B/S/N) exist. */
  g_autoptr(GHashTable) reachable = ostree_repo_traverse_new_reachable ();
  OstreeRepoPruneOptions opts = { .flags = OSTREE_REPO_PRUNE_FLAGS_REFS_ONLY,
                                  .reachable = reachable };
  return ostree_sysroot_cleanup_prune_repo (s, &opts, out_total, out_pruned, out_size, c, error);
}

/* fsck_object checks one object; it returns NULL when it is whole, else why it is not. */
static char *
fsck_object (OstreeRepo *repo, const char *csum, OstreeObjectType type, GCancellable *c)
{
  g_autoptr(GError) err = NULL;
  g_autofree char *actual = NULL;
  if (type == OSTREE_OBJECT_TYPE_FILE)
    {
      g_autoptr(GInputStream) in = NULL;
      g_autoptr(GFileInfo) info = NULL;
      g_autoptr(GVariant) xattrs = NULL;
      g_autofree guchar *bin = NULL;
      if (!ostree_repo_load_file (repo, csum, &in, &info, &xattrs, c, &err)
          || !ostree_checksum_file_from_input (info, xattrs, in, type, &bin, c, &err))
        return g_strdup (err->message);
      actual = ostree_checksum_from_bytes (bin);
    }
  else
    {
      g_autoptr(GVariant) v = NULL;
      if (!ostree_repo_load_variant (repo, type, csum, &v, &err))
        return g_strdup (err->message);
      actual = g_compute_checksum_for_data (G_CHECKSUM_SHA256, g_variant_get_data (v),
                                            g_variant_get_size (v));
    }
  if (strcmp (actual, csum) != 0)
    return g_strdup_printf ("corrupted: its content hashes to %s", actual);
  return NULL;
}

char **
bootc_repo_fsck_commit (OstreeRepo *repo, const char *commit, guint *out_objects,
                        GCancellable *c, GError **error)
{
  g_autoptr(GPtrArray) bad = g_ptr_array_new ();
  g_autoptr(GHashTable) reachable = NULL;
  g_autoptr(GError) err = NULL;
  *out_objects = 0;
  if (!ostree_repo_traverse_commit (repo, commit, 0, &reachable, c, &err))
    {
      if (g_cancellable_set_error_if_cancelled (c, error))
        return NULL;
      g_ptr_array_add (bad, g_strdup_printf ("commit %s: %s", commit, err->message));
    }
  if (reachable != NULL)
    {
      GHashTableIter it;
      gpointer k, v;
      g_hash_table_iter_init (&it, reachable);
      while (g_hash_table_iter_next (&it, &k, &v))
        {
          const char *csum;
          OstreeObjectType type;
          if (g_cancellable_set_error_if_cancelled (c, error))
            {
              g_ptr_array_set_free_func (bad, g_free);
              return NULL;
            }
          ostree_object_name_deserialize (k, &csum, &type);
          (*out_objects)++;
          char *why = fsck_object (repo, csum, type, c);
          if (why != NULL)
            {
              g_ptr_array_add (bad, g_strdup_printf ("%s %s: %s", ostree_object_type_to_string (type),
                                                     csum, why));
              g_free (why);
            }
        }
    }
  g_ptr_array_add (bad, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&bad), FALSE);
}

gboolean
bootc_repo_checkout (OstreeRepo *repo, const char *rev, const char *dest, const char *subpath,
                     gboolean user_mode, int overwrite_mode, gboolean process_whiteouts,
                     gboolean force_copy, gboolean no_copy_fallback, GCancellable *c,
                     GError **error)
{
  g_autofree char *commit = NULL;
  if (!ostree_repo_resolve_rev (repo, rev, FALSE, &commit, error))
    return FALSE;
  OstreeRepoCheckoutAtOptions opts = { 0, };
  opts.mode = user_mode ? OSTREE_REPO_CHECKOUT_MODE_USER : OSTREE_REPO_CHECKOUT_MODE_NONE;
  opts.overwrite_mode = overwrite_mode;
  opts.process_whiteouts = process_whiteouts;
  opts.force_copy = force_copy;
  opts.no_copy_fallback = no_copy_fallback;
  opts.subpath = subpath;
  return ostree_repo_checkout_at (repo, &opts, AT_FDCWD, dest, commit, c, error);
}

gboolean
bootc_repo_config_set (OstreeRepo *repo, const char *group, const char *key, const char *value,
                       GError **error)
{
  g_autoptr(GKeyFile) config = ostree_repo_copy_config (repo);
  g_key_file_set_string (config, group, key, value);
  return ostree_repo_write_config (repo, config, error);
}

char *
bootc_repo_config_get (OstreeRepo *repo, const char *group, const char *key)
{
  GKeyFile *config = ostree_repo_get_config (repo);
  return g_key_file_get_string (config, group, key, NULL);
}

/* ---- Mutable tree ---- */

OstreeMutableTree *
bootc_mtree_from_commit (OstreeRepo *repo, const char *rev, GError **error)
{
  return ostree_mutable_tree_new_from_commit (repo, rev, error);
}

OstreeMutableTree *
bootc_mtree_ensure_dir (OstreeMutableTree *t, const char *name, GError **error)
{
  OstreeMutableTree *out = NULL;
  if (!ostree_mutable_tree_ensure_dir (t, name, &out, error))
    return NULL;
  return out;
}

static GPtrArray *
path_array (const char *const *path, gsize n)
{
  GPtrArray *arr = g_ptr_array_new ();
  for (gsize i = 0; i < n; i++)
    g_ptr_array_add (arr, (gpointer) path[i]);
  return arr;
}

OstreeMutableTree *
bootc_mtree_walk (OstreeMutableTree *t, const char *const *path, gsize n, GError **error)
{
  if (n == 0)
    return g_object_ref (t);
  /* Like ensure_parent_dirs, ostree_mutable_tree_walk stops at the parent of the last
   * element: append a dummy element to walk to the directory itself. */
  g_autoptr(GPtrArray) arr = path_array (path, n);
  g_ptr_array_add (arr, (gpointer) "");
  OstreeMutableTree *out = NULL;
  if (!ostree_mutable_tree_walk (t, arr, 0, &out, error))
    return NULL;
  return out;
}

gboolean
bootc_mtree_lookup (OstreeMutableTree *t, const char *name, char **out_file,
                    OstreeMutableTree **out_subdir, GError **error)
{
  return ostree_mutable_tree_lookup (t, name, out_file, out_subdir, error);
}

char **
bootc_mtree_list (OstreeMutableTree *t, gboolean dirs, GError **error)
{
  /* A lazily loaded node whose dirtree cannot be read returns empty tables here and keeps
   * the error in the tree: check it, or a directory that cannot be read looks empty. */
  GHashTable *h = dirs ? ostree_mutable_tree_get_subdirs (t) : ostree_mutable_tree_get_files (t);
  if (!ostree_mutable_tree_check_error (t, error))
    return NULL;
  GPtrArray *out = g_ptr_array_new ();
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, h);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      g_ptr_array_add (out, g_strdup (k));
      if (!dirs)
        g_ptr_array_add (out, g_strdup (v));
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

/* ---- Sysroot ---- */

OstreeSysroot *
bootc_sysroot_new (const char *path)
{
  g_autoptr(GFile) f = g_file_new_for_path (path);
  return ostree_sysroot_new (f);
}

OstreeDeployment *
bootc_sysroot_deploy (OstreeSysroot *s, gboolean stage, const char *osname, const char *revision,
                      GKeyFile *origin, OstreeDeployment *merge, char **kargs,
                      GCancellable *c, GError **error)
{
  /* libostree wants a commit checksum (and asserts on anything else): resolve refs first. */
  g_autofree char *commit = NULL;
  if (!ostree_repo_resolve_rev (ostree_sysroot_repo (s), revision, FALSE, &commit, error))
    return NULL;
  OstreeSysrootDeployTreeOpts opts = { 0, };
  opts.override_kernel_argv = kargs;
  OstreeDeployment *out = NULL;
  gboolean ok;
  if (stage)
    ok = ostree_sysroot_stage_tree_with_options (s, osname, commit, origin, merge, &opts, &out,
                                                 c, error);
  else
    ok = ostree_sysroot_deploy_tree_with_options (s, osname, commit, origin, merge, &opts, &out,
                                                  c, error);
  if (!ok)
    return NULL;
  return out;
}

gboolean
bootc_sysroot_write_deployments (OstreeSysroot *s, OstreeDeployment **deps, gsize n,
                                 gboolean postclean, GCancellable *c, GError **error)
{
  g_autoptr(GPtrArray) arr = g_ptr_array_new ();
  for (gsize i = 0; i < n; i++)
    g_ptr_array_add (arr, deps[i]);
  /* The cleanup that follows is libostree's, preceded by the commit deletion that makes
   * its prune safe to kill. */
  OstreeSysrootWriteDeploymentsOpts opts = { .do_postclean = FALSE };
  if (!ostree_sysroot_write_deployments_with_options (s, arr, &opts, c, error))
    return FALSE;
  if (!postclean)
    return TRUE;
  if (!ostree_sysroot_load (s, c, error) || !ostree_sysroot_prepare_cleanup (s, c, error)
      || !delete_unreachable_commits (s, c, error))
    return FALSE;
  return ostree_sysroot_cleanup (s, c, error);
}

OstreeDeployment *
bootc_deployment_index (GPtrArray *arr, guint i)
{
  return arr->pdata[i];
}

const char *
bootc_deployment_options (OstreeDeployment *d)
{
  OstreeBootconfigParser *bc = ostree_deployment_get_bootconfig (d);
  if (bc == NULL)
    return NULL;
  return ostree_bootconfig_parser_get (bc, "options");
}
