/*
 * Exit codes of every ferry command (documented in each man page).
 */
#ifndef FERRY_CLI_EXIT_H
#define FERRY_CLI_EXIT_H

#define FERRY_EXIT_OK 0      /* success */
#define FERRY_EXIT_FAILURE 1 /* an error other than those below */
#define FERRY_EXIT_VERIFY 2  /* a bundle failed verification or trust checks */
#define FERRY_EXIT_UNCHANGED 3 /* export --if-changed: nothing changed, nothing written */
#define FERRY_EXIT_USAGE 64  /* bad command line */

#endif
