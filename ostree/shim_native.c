/* C shims for ostree-native container images; see shim_native.h. */
#include "shim_native.h"
#include "shim.h"

#include <string.h>
#include <gio/gunixinputstream.h>

/* variant_from_bytes copies buf into a new, ref-sunk variant of type ty. Untrusted data:
 * GVariant validates it on access. NULL for an empty xattrs buffer when allow_null. */
static GVariant *
variant_from_bytes (const char *ty, const guint8 *buf, gsize len)
{
  g_autoptr(GBytes) b = g_bytes_new (buf, len);
  return g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (ty), b, FALSE));
}

static GVariant *
xattrs_variant (const guint8 *buf, gsize len, GError **error)
{
  GVariant *v = variant_from_bytes ("a(ayay)", buf, len);
  if (!g_variant_is_normal_form (v))
    {
      g_variant_unref (v);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "extended attributes are not a normal-form a(ayay) variant");
      return NULL;
    }
  return v;
}

gboolean
bootc_native_write_regfile_inline (OstreeRepo *repo, const char *expected, guint32 uid,
                                   guint32 gid, guint32 mode, const guint8 *xattrs,
                                   gsize xattrs_len, const guint8 *buf, gsize len,
                                   GCancellable *c, GError **error)
{
  g_autoptr(GVariant) xv = xattrs_variant (xattrs, xattrs_len, error);
  if (xv == NULL)
    return FALSE;
  g_autofree char *csum = ostree_repo_write_regfile_inline (repo, expected, uid, gid, mode, xv,
                                                            buf, len, c, error);
  return csum != NULL;
}

OstreeContentWriter *
bootc_native_write_regfile (OstreeRepo *repo, const char *expected, guint32 uid, guint32 gid,
                            guint32 mode, guint64 len, const guint8 *xattrs, gsize xattrs_len,
                            GError **error)
{
  g_autoptr(GVariant) xv = xattrs_variant (xattrs, xattrs_len, error);
  if (xv == NULL)
    return NULL;
  return ostree_repo_write_regfile (repo, expected, uid, gid, mode, len, xv, error);
}

gboolean
bootc_native_write_content_fd (OstreeRepo *repo, const char *expected, int fd, guint32 uid,
                               guint32 gid, guint32 mode, guint64 len, const guint8 *xattrs,
                               gsize xattrs_len, GCancellable *c, GError **error)
{
  g_autoptr(GVariant) xv = xattrs_variant (xattrs, xattrs_len, error);
  if (xv == NULL)
    return FALSE;
  g_autofree char *csum = bootc_repo_write_content_fd (repo, expected, fd, uid, gid, mode, len, xv,
                                                        c, error);
  return csum != NULL;
}

gboolean
bootc_native_write_symlink (OstreeRepo *repo, const char *expected, guint32 uid, guint32 gid,
                            const guint8 *xattrs, gsize xattrs_len, const char *target,
                            GCancellable *c, GError **error)
{
  g_autoptr(GVariant) xv = xattrs_variant (xattrs, xattrs_len, error);
  if (xv == NULL)
    return FALSE;
  g_autofree char *csum = ostree_repo_write_symlink (repo, expected, uid, gid, xv, target, c,
                                                     error);
  return csum != NULL;
}

static const char *
metadata_type (OstreeObjectType type)
{
  switch (type)
    {
    case OSTREE_OBJECT_TYPE_COMMIT:
      return "(a{sv}aya(say)sstayay)";
    case OSTREE_OBJECT_TYPE_DIR_TREE:
      return "(a(say)a(sayay))";
    case OSTREE_OBJECT_TYPE_DIR_META:
      return "(uuua(ayay))";
    case OSTREE_OBJECT_TYPE_COMMIT_META:
      return "a{sv}";
    default:
      return NULL;
    }
}

gboolean
bootc_native_write_metadata (OstreeRepo *repo, OstreeObjectType type, const char *expected,
                             const guint8 *buf, gsize len, GCancellable *c, GError **error)
{
  const char *ty = metadata_type (type);
  if (ty == NULL || type == OSTREE_OBJECT_TYPE_COMMIT_META)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not a metadata object type");
      return FALSE;
    }
  g_autoptr(GVariant) v = variant_from_bytes (ty, buf, len);
  if (!g_variant_is_normal_form (v))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "object is not a normal-form %s variant", ty);
      return FALSE;
    }
  g_autofree guchar *csum = NULL;
  return ostree_repo_write_metadata (repo, type, expected, v, &csum, c, error);
}

gboolean
bootc_native_write_detached (OstreeRepo *repo, const char *checksum, const guint8 *buf,
                             gsize len, GCancellable *c, GError **error)
{
  g_autoptr(GVariant) v = variant_from_bytes ("a{sv}", buf, len);
  if (!g_variant_is_normal_form (v))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "detached metadata is not a normal-form a{sv} variant");
      return FALSE;
    }
  return ostree_repo_write_commit_detached_metadata (repo, checksum, v, c, error);
}

static guint8 *
variant_data (GVariant *v, gsize *out_len)
{
  gsize n = g_variant_get_size (v);
  guint8 *out = g_malloc (n > 0 ? n : 1);
  g_variant_store (v, out);
  *out_len = n;
  return out;
}

guint8 *
bootc_native_load_object (OstreeRepo *repo, OstreeObjectType type, const char *checksum,
                          gsize *out_len, GError **error)
{
  g_autoptr(GVariant) v = NULL;
  if (!ostree_repo_load_variant (repo, type, checksum, &v, error))
    return NULL;
  return variant_data (v, out_len);
}

gboolean
bootc_native_load_detached (OstreeRepo *repo, const char *checksum, guint8 **out,
                            gsize *out_len, GCancellable *c, GError **error)
{
  g_autoptr(GVariant) v = NULL;
  *out = NULL;
  *out_len = 0;
  if (!ostree_repo_read_commit_detached_metadata (repo, checksum, &v, c, error))
    return FALSE;
  if (v != NULL)
    *out = variant_data (v, out_len);
  return TRUE;
}

guint8 *
bootc_native_file_xattrs (OstreeRepo *repo, const char *checksum, gsize *out_len,
                          GCancellable *c, GError **error)
{
  g_autoptr(GVariant) xattrs = NULL;
  if (!ostree_repo_load_file (repo, checksum, NULL, NULL, &xattrs, c, error))
    return NULL;
  if (xattrs == NULL)
    xattrs = g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE ("(ayay)"), NULL, 0));
  return variant_data (xattrs, out_len);
}

gboolean
bootc_native_read_dirtree (OstreeRepo *repo, const char *checksum, char ***files,
                           char ***file_csums, char ***dirs, char ***dir_trees,
                           char ***dir_metas, GError **error)
{
  g_autoptr(GVariant) v = NULL;
  if (!ostree_repo_load_variant (repo, OSTREE_OBJECT_TYPE_DIR_TREE, checksum, &v, error))
    return FALSE;
  g_autoptr(GVariant) fv = g_variant_get_child_value (v, 0);
  g_autoptr(GVariant) dv = g_variant_get_child_value (v, 1);
  gsize nf = g_variant_n_children (fv), nd = g_variant_n_children (dv);
  *files = g_new0 (char *, nf + 1);
  *file_csums = g_new0 (char *, nf + 1);
  for (gsize i = 0; i < nf; i++)
    {
      const char *name;
      g_autoptr(GVariant) csum = NULL;
      g_variant_get_child (fv, i, "(&s@ay)", &name, &csum);
      (*files)[i] = g_strdup (name);
      (*file_csums)[i] = ostree_checksum_from_bytes_v (csum);
    }
  *dirs = g_new0 (char *, nd + 1);
  *dir_trees = g_new0 (char *, nd + 1);
  *dir_metas = g_new0 (char *, nd + 1);
  for (gsize i = 0; i < nd; i++)
    {
      const char *name;
      g_autoptr(GVariant) tree = NULL;
      g_autoptr(GVariant) meta = NULL;
      g_variant_get_child (dv, i, "(&s@ay@ay)", &name, &tree, &meta);
      (*dirs)[i] = g_strdup (name);
      (*dir_trees)[i] = ostree_checksum_from_bytes_v (tree);
      (*dir_metas)[i] = ostree_checksum_from_bytes_v (meta);
    }
  return TRUE;
}

gboolean
bootc_native_read_dirmeta (OstreeRepo *repo, const char *checksum, guint32 *uid, guint32 *gid,
                           guint32 *mode, GError **error)
{
  g_autoptr(GVariant) v = NULL;
  if (!ostree_repo_load_variant (repo, OSTREE_OBJECT_TYPE_DIR_META, checksum, &v, error))
    return FALSE;
  g_autoptr(GVariant) xattrs = NULL;
  g_variant_get (v, "(uuu@a(ayay))", uid, gid, mode, &xattrs);
  *uid = GUINT32_FROM_BE (*uid);
  *gid = GUINT32_FROM_BE (*gid);
  *mode = GUINT32_FROM_BE (*mode);
  return TRUE;
}

gboolean
bootc_native_gpg_verify (OstreeRepo *repo, const guint8 *commit, gsize commit_len,
                         const guint8 *commitmeta, gsize commitmeta_len, const char *keyringdir,
                         const char *keyring, char **out_text, GCancellable *c, GError **error)
{
  *out_text = NULL;
  g_autoptr(GVariant) meta = variant_from_bytes ("a{sv}", commitmeta, commitmeta_len);
  g_autoptr(GVariant) sigs = g_variant_lookup_value (meta, "ostree.gpgsigs",
                                                     G_VARIANT_TYPE ("aay"));
  if (sigs == NULL || g_variant_n_children (sigs) == 0)
    {
      g_set_error (error, OSTREE_GPG_ERROR, OSTREE_GPG_ERROR_NO_SIGNATURE,
                   "no GPG signatures in the commit's detached metadata");
      return FALSE;
    }
  g_autoptr(GByteArray) all = g_byte_array_new ();
  for (gsize i = 0; i < g_variant_n_children (sigs); i++)
    {
      g_autoptr(GVariant) s = g_variant_get_child_value (sigs, i);
      g_byte_array_append (all, g_variant_get_data (s), g_variant_get_size (s));
    }
  g_autoptr(GBytes) sigbytes = g_byte_array_free_to_bytes (g_steal_pointer (&all));
  g_autoptr(GBytes) data = g_bytes_new (commit, commit_len);
  g_autoptr(GFile) dir = keyringdir ? g_file_new_for_path (keyringdir) : NULL;
  g_autoptr(GFile) file = keyring ? g_file_new_for_path (keyring) : NULL;
  g_autoptr(OstreeGpgVerifyResult) res = ostree_repo_gpg_verify_data (repo, NULL, data, sigbytes,
                                                                      dir, file, c, error);
  if (res == NULL)
    return FALSE;
  if (!ostree_gpg_verify_result_require_valid_signature (res, error))
    return FALSE;
  g_autoptr(GString) text = g_string_new ("");
  guint n = ostree_gpg_verify_result_count_all (res);
  for (guint i = 0; i < n; i++)
    ostree_gpg_verify_result_describe (res, i, text, NULL, OSTREE_GPG_SIGNATURE_FORMAT_DEFAULT);
  *out_text = g_string_free (g_steal_pointer (&text), FALSE);
  return TRUE;
}
