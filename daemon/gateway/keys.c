#include "config.h"

#include "keys.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "envelope.h"
#include "hex.h"
#include "textfile.h"

#define KEYS_DIGEST_LEN 32
#define KEYS_FILE_MAX (16u << 20)

struct keys_entry {
	char tenant[ENVELOPE_TENANT_MAX + 1];
	/* The api key is kept only as a digest too: comparing fixed-size
	 * digests is what makes the lookup constant-time whatever the key's
	 * length. */
	uint8_t key_digest[KEYS_DIGEST_LEN];
	uint8_t secret_digest[KEYS_DIGEST_LEN];
	unsigned line;
};

struct keys {
	struct keys_entry *entries;
	size_t count;
};

static int keys_sha256(const void *data, size_t len, uint8_t out[KEYS_DIGEST_LEN])
{
	/* gnutls_hash_fast reads nothing for len 0, but wants a pointer. */
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, len ? data : "", len, out) == 0 ? 0 : -EIO;
}

int keys_hash_hex(const char *data, size_t len, char out[KEYS_HASH_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t d[KEYS_DIGEST_LEN];

	if (keys_sha256(data, len, d) < 0)
		return -EIO;
	for (size_t i = 0; i < KEYS_DIGEST_LEN; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[KEYS_HASH_HEX_LEN] = '\0';
	return 0;
}

/* 0 when the two digests are equal, non-zero otherwise, reading every byte. */
static unsigned keys_digest_diff(const uint8_t *a, const uint8_t *b)
{
	unsigned diff = 0;

	for (size_t i = 0; i < KEYS_DIGEST_LEN; i++)
		diff |= (unsigned)(a[i] ^ b[i]);
	return diff;
}

static bool keys_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One non-comment line, trimmed: tenant:api_key:hash. */
static int keys_parse_line(const char *s, size_t len, struct keys_entry *e, char *why, size_t whysize)
{
	const char *c1 = memchr(s, ':', len), *c2, *key, *hash;
	size_t tlen, klen, hlen;

	c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - s)) : NULL;
	if (!c1 || !c2 || memchr(c2 + 1, ':', len - (size_t)(c2 + 1 - s))) {
		snprintf(why, whysize, "expected tenant_id:api_key:sha256hex(secret)");
		return -EINVAL;
	}
	tlen = (size_t)(c1 - s);
	key = c1 + 1;
	klen = (size_t)(c2 - key);
	hash = c2 + 1;
	hlen = len - (size_t)(hash - s);
	if (tlen == 0 || tlen > ENVELOPE_TENANT_MAX) {
		snprintf(why, whysize, "the tenant id must be 1..%d bytes", ENVELOPE_TENANT_MAX);
		return -EINVAL;
	}
	memcpy(e->tenant, s, tlen);
	e->tenant[tlen] = '\0';
	if (!envelope_tenant_valid(e->tenant)) {
		snprintf(why, whysize, "the tenant id may only hold A-Z a-z 0-9 . _ -");
		return -EINVAL;
	}
	if (klen == 0 || klen > KEYS_API_KEY_MAX) {
		snprintf(why, whysize, "the api key must be 1..%d bytes", KEYS_API_KEY_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < klen; i++) {
		if (key[i] < 0x21 || key[i] > 0x7e) {
			snprintf(why, whysize, "the api key must be printable ASCII without blanks");
			return -EINVAL;
		}
	}
	if (hlen != KEYS_HASH_HEX_LEN) {
		snprintf(why, whysize, "the secret's hash must be %d hex digits (patients-gateway "
			 "--hash-secret prints it)", KEYS_HASH_HEX_LEN);
		return -EINVAL;
	}
	for (size_t i = 0; i < KEYS_DIGEST_LEN; i++) {
		int hi = hex_digit((unsigned char)hash[2 * i]), lo = hex_digit((unsigned char)hash[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			snprintf(why, whysize, "the secret's hash must be hex digits only");
			return -EINVAL;
		}
		e->secret_digest[i] = (uint8_t)(hi << 4 | lo);
	}
	if (keys_sha256(key, klen, e->key_digest) < 0) {
		snprintf(why, whysize, "SHA-256 failed");
		return -EIO;
	}
	return 0;
}

int keys_parse(const char *text, size_t len, const char *source, struct keys **out, char *err,
	       size_t errsize)
{
	struct keys *k = NULL;
	size_t cap = 0, pos = 0;
	unsigned line = 0;
	char why[200];
	int r = -ENOMEM;

	*out = NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		goto fail;
	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		struct keys_entry e = { 0 };

		pos += n + (nl ? 1 : 0);
		line++;
		while (n && keys_blank(*s)) {
			s++;
			n--;
		}
		while (n && keys_blank(s[n - 1]))
			n--;
		if (n == 0 || *s == '#')
			continue;
		if (memchr(s, '\0', n)) {
			snprintf(err, errsize, "%s:%u: NUL byte", source, line);
			r = -EINVAL;
			goto fail;
		}
		r = keys_parse_line(s, n, &e, why, sizeof(why));
		if (r < 0) {
			snprintf(err, errsize, "%s:%u: %s", source, line, why);
			goto fail;
		}
		e.line = line;
		for (size_t i = 0; i < k->count; i++) {
			if (keys_digest_diff(k->entries[i].key_digest, e.key_digest) == 0) {
				snprintf(err, errsize, "%s:%u: this api key is already on line %u", source,
					 line, k->entries[i].line);
				r = -EINVAL;
				goto fail;
			}
		}
		if (k->count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct keys_entry *grown = realloc(k->entries, ncap * sizeof(*grown));

			if (!grown) {
				r = -ENOMEM;
				goto fail;
			}
			k->entries = grown;
			cap = ncap;
		}
		k->entries[k->count++] = e;
	}
	*out = k;
	return 0;
fail:
	if (r == -ENOMEM)
		snprintf(err, errsize, "%s: out of memory", source);
	keys_free(k);
	return r;
}

int keys_load(const char *path, struct keys **out, char *err, size_t errsize)
{
	char *text;
	size_t len;
	int r;

	*out = NULL;
	r = textfile_read(path, KEYS_FILE_MAX, &text, &len, err, errsize);
	if (r < 0)
		return r;
	r = keys_parse(text, len, path, out, err, errsize);
	free(text);
	return r;
}

void keys_free(struct keys *k)
{
	if (!k)
		return;
	free(k->entries);
	free(k);
}

size_t keys_count(const struct keys *k)
{
	return k ? k->count : 0;
}

int keys_authenticate(const struct keys *k, const char *api_key, size_t api_key_len,
		      const char *secret, size_t secret_len, char *tenant, size_t tenant_size)
{
	uint8_t key_digest[KEYS_DIGEST_LEN], secret_digest[KEYS_DIGEST_LEN];
	uint8_t expected[KEYS_DIGEST_LEN] = { 0 };
	size_t found_index = 0;
	unsigned found = 0, secret_diff;

	if (keys_sha256(api_key, api_key_len, key_digest) < 0 ||
	    keys_sha256(secret, secret_len, secret_digest) < 0)
		return -EIO;
	/* Every entry is visited and the matching one selected with masks, so
	 * the time taken says nothing about which keys exist. */
	for (size_t i = 0; k && i < k->count; i++) {
		unsigned diff = keys_digest_diff(k->entries[i].key_digest, key_digest);
		/* 1 when diff == 0, else 0, without a branch. */
		unsigned match = 1u & ((diff - 1u) >> 8);
		uint8_t mask = (uint8_t)(0u - match);
		size_t smask = (size_t)0 - (size_t)match;

		for (size_t j = 0; j < KEYS_DIGEST_LEN; j++)
			expected[j] = (uint8_t)(expected[j] | (k->entries[i].secret_digest[j] & mask));
		found_index |= i & smask;
		found |= match;
	}
	/* With no match, expected stays all zero: SHA-256 of any secret being
	 * all zero is not a thing, but found is checked too. */
	secret_diff = keys_digest_diff(expected, secret_digest);
	if (!found || secret_diff != 0 || api_key_len == 0)
		return -EACCES;
	snprintf(tenant, tenant_size, "%s", k->entries[found_index].tenant);
	return 0;
}
