/* keys: the gateway's credentials. A keys file holds one
 * `tenant_id:api_key:sha256-hex-of-secret` per line ('#' starts a comment
 * line, blank lines are skipped); the secret itself is never stored. A
 * loaded set is immutable: a reload builds a new one and swaps it in. */
#ifndef PATIENTS_GATEWAY_KEYS_H
#define PATIENTS_GATEWAY_KEYS_H

#include <stddef.h>

#define KEYS_HASH_HEX_LEN 64 /* SHA-256 as lowercase hex */
#define KEYS_API_KEY_MAX 256 /* bytes of printable ASCII, no ':' */

struct keys;

/* Parses a keys file's text; source names it in errors ("path:line: ...").
 * Returns 0 with a new set in *out (free with keys_free); -EINVAL with the
 * first problem in err (a bad tenant, api key or hash, a duplicate api key;
 * never quoting a key); -ENOMEM. */
int keys_parse(const char *text, size_t len, const char *source, struct keys **out, char *err,
	       size_t errsize);

/* Reads and parses the file at path. As keys_parse, plus -errno with err
 * set when the file cannot be read. */
int keys_load(const char *path, struct keys **out, char *err, size_t errsize);

void keys_free(struct keys *k);

/* Number of credentials in the set. */
size_t keys_count(const struct keys *k);

/* Checks an api key and secret (either may be empty, as when a header is
 * missing). The work does not depend on which part is wrong: both are
 * hashed, every entry is compared in constant time. Returns 0 and copies
 * the tenant into tenant (NUL-terminated) when both match; -EACCES
 * otherwise; -ENOMEM/-EIO when hashing failed. */
int keys_authenticate(const struct keys *k, const char *api_key, size_t api_key_len,
		      const char *secret, size_t secret_len, char *tenant, size_t tenant_size);

/* Writes SHA-256(data) as lowercase hex and a NUL. Returns 0 or -EIO. */
int keys_hash_hex(const char *data, size_t len, char out[KEYS_HASH_HEX_LEN + 1]);

#endif
