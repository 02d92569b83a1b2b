/* exitcode: the exit statuses of both daemons, one policy. systemd's units
 * say Restart=on-failure and RestartPreventExitStatus=78: a status tells it
 * whether a restart can help. */
#ifndef PATIENTS_EXITCODE_H
#define PATIENTS_EXITCODE_H

enum exitcode {
	EXITCODE_OK = 0,
	EXITCODE_FAILURE = 1, /* at run time, or out of memory: a restart may help */
	EXITCODE_USAGE = 2,   /* a bad flag or value on the command line */
	EXITCODE_CONFIG = 78, /* sysexits' EX_CONFIG: configuration or schema, which a
			       * restart cannot fix (not restarted) */
};

/* The status for a start-up step that failed with r (a negative errno):
 * resources (-ENOMEM, -EAGAIN, -EMFILE...) and I/O are failures worth a
 * restart; everything else is the configuration's. */
int exitcode_for(int r);

#endif
