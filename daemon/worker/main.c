/* patients-worker: the Kafka-to-PostgreSQL consumer (DESIGN.md s.4).
 * This is the skeleton: options and identity; the consumer lands with issue 7. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: patients-worker [OPTIONS]\n"
		"\n"
		"Consumes patients batches from Kafka and applies each one to\n"
		"PostgreSQL as one transaction, committing offsets only after it.\n"
		"\n"
		"  -h, --help       show this help and exit\n"
		"  -V, --version    show the version and exit\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("patients-worker %s\n", PACKAGE_VERSION);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return 2;
		}
	}
	fprintf(stderr, "patients-worker: the consumer is not built yet (issue 7)\n");
	return EXIT_FAILURE;
}
