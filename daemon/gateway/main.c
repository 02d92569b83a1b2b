/* patients-gateway: the HTTP front of the patients pipeline (DESIGN.md s.2).
 * This is the skeleton: options and identity; the server lands with issue 6. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: patients-gateway [OPTIONS]\n"
		"\n"
		"Accepts PUT /v1/patients batches over HTTPS, validates them and\n"
		"publishes each one to Kafka, answering 200 once Kafka has it.\n"
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
			printf("patients-gateway %s\n", PACKAGE_VERSION);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return 2;
		}
	}
	fprintf(stderr, "patients-gateway: the HTTP server is not built yet (issue 6)\n");
	return EXIT_FAILURE;
}
