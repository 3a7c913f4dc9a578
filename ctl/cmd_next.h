/*
 * evalschedctl next: preview a schedule's fire times.
 */
#ifndef EVALSCHED_CMD_NEXT_H
#define EVALSCHED_CMD_NEXT_H

/*
 * argv[0] is "next".  Parses its own options (no getopt state), prints
 * one RFC 3339 time per line, or a JSON array of strings when json is
 * set, and returns a sysexits(3) status.
 */
int	cmd_next(int argc, char **argv, int json);

#endif
