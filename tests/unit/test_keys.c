/* Table-driven tests for the gateway's keys: the file format and its
 * errors (path:line, never a key), authentication, SHA-256 vectors. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keys.h"

/* sha256("s3cret"), sha256("other") */
#define H_S3CRET "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0"
#define H_OTHER "d9298a10d1b0735837dc4bd85dac641b0f3cef27a47e5d53a54f2f3f5b2fcffa"

static void test_hash_vectors(void **state)
{
	static const struct {
		const char *in, *hex;
	} cases[] = {
		/* FIPS 180-2 vectors */
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "s3cret", H_S3CRET },
		{ "other", H_OTHER },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char hex[KEYS_HASH_HEX_LEN + 1];

		assert_int_equal(keys_hash_hex(cases[i].in, strlen(cases[i].in), hex), 0);
		assert_string_equal(hex, cases[i].hex);
	}
}

static void test_parse(void **state)
{
	static const struct {
		const char *text;
		int rc;
		size_t count;
		const char *err; /* exact */
	} cases[] = {
		{ "", 0, 0, NULL },
		{ "# only a comment\n\n   \n", 0, 0, NULL },
		{ "acme:ak1:" H_S3CRET "\n", 0, 1, NULL },
		{ "  acme:ak1:" H_S3CRET "  \r\n# c\nbeta.2_x-y:ak2:" H_OTHER, 0, 2, NULL },
		/* upper-case hex is accepted */
		{ "acme:ak1:1EC1C26B50D5D3C58D9583181AF8076655FE00756BF7285940BA3670F99FCBA0\n", 0, 1,
		  NULL },
		{ "acme:ak1\n", -EINVAL, 0, "f:1: expected tenant_id:api_key:sha256hex(secret)" },
		{ "\n\nacme:ak1:" H_S3CRET ":x\n", -EINVAL, 0,
		  "f:3: expected tenant_id:api_key:sha256hex(secret)" },
		{ ":ak1:" H_S3CRET, -EINVAL, 0, "f:1: the tenant id must be 1..64 bytes" },
		{ "ac me:ak1:" H_S3CRET, -EINVAL, 0,
		  "f:1: the tenant id may only hold A-Z a-z 0-9 . _ -" },
		{ "acme::" H_S3CRET, -EINVAL, 0, "f:1: the api key must be 1..256 bytes" },
		{ "acme:a k:" H_S3CRET, -EINVAL, 0,
		  "f:1: the api key must be printable ASCII without blanks" },
		{ "acme:ak1:abc", -EINVAL, 0,
		  "f:1: the secret's hash must be 64 hex digits (patients-gateway --hash-secret prints it)" },
		{ "acme:ak1:zec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0", -EINVAL, 0,
		  "f:1: the secret's hash must be hex digits only" },
		{ "acme:ak1:" H_S3CRET "\nbeta:ak1:" H_OTHER "\n", -EINVAL, 0,
		  "f:2: this api key is already on line 1" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct keys *k = NULL;
		char err[256] = "";
		int rc = keys_parse(cases[i].text, strlen(cases[i].text), "f", &k, err, sizeof(err));

		print_message("# case %zu: rc=%d err=%s\n", i, rc, err);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0) {
			assert_non_null(k);
			assert_int_equal(keys_count(k), cases[i].count);
		} else {
			assert_null(k);
			assert_string_equal(err, cases[i].err);
		}
		keys_free(k);
	}
}

static void test_authenticate(void **state)
{
	static const char file[] = "acme:ak1:" H_S3CRET "\n"
				   "beta:ak2:" H_OTHER "\n"
				   "gamma:ak3:" H_S3CRET "\n";
	static const struct {
		const char *key, *secret;
		int rc;
		const char *tenant;
	} cases[] = {
		{ "ak1", "s3cret", 0, "acme" },
		{ "ak2", "other", 0, "beta" },
		{ "ak3", "s3cret", 0, "gamma" }, /* same secret, other key */
		{ "ak1", "other", -EACCES, NULL }, /* another key's secret */
		{ "ak1", "s3cret\n", -EACCES, NULL },
		{ "ak1", "", -EACCES, NULL },	  /* missing secret header */
		{ "", "s3cret", -EACCES, NULL },  /* missing key header */
		{ "", "", -EACCES, NULL },
		{ "AK1", "s3cret", -EACCES, NULL }, /* keys are case-sensitive */
		{ "ak", "s3cret", -EACCES, NULL },
		{ "nobody", "s3cret", -EACCES, NULL },
	};
	struct keys *k = NULL;
	char err[128];

	(void)state;
	assert_int_equal(keys_parse(file, strlen(file), "f", &k, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char tenant[65] = "unchanged";
		int rc = keys_authenticate(k, cases[i].key, strlen(cases[i].key), cases[i].secret,
					   strlen(cases[i].secret), tenant, sizeof(tenant));

		print_message("# case %zu: rc=%d\n", i, rc);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0)
			assert_string_equal(tenant, cases[i].tenant);
	}
	keys_free(k);
	/* No keys at all: everything is refused. */
	{
		char tenant[65];
		assert_int_equal(keys_authenticate(NULL, "ak1", 3, "s3cret", 6, tenant, sizeof(tenant)),
				 -EACCES);
	}
}

static void test_load(void **state)
{
	char path[] = "/tmp/test_keys.XXXXXX", err[256];
	struct keys *k = NULL;
	int fd = mkstemp(path);
	static const char text[] = "acme:ak1:" H_S3CRET "\n";

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(keys_load(path, &k, err, sizeof(err)), 0);
	assert_int_equal(keys_count(k), 1);
	keys_free(k);
	unlink(path);
	assert_int_equal(keys_load(path, &k, err, sizeof(err)), -ENOENT);
	assert_null(k);
	assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_vectors),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_authenticate),
		cmocka_unit_test(test_load),
	};
	return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
