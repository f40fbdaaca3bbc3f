/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The command table behind cbwctl's dispatch and help texts.
 *
 * Each command is one 'const struct command cmd_<name>' defined in the
 * file that implements it (cbwctl.c lists them).  cbwctl.c parses the
 * options with getopt_long(), hands each one to ->set_option() together
 * with a zeroed options struct of ->opts_size bytes, checks the number of
 * positional arguments and calls ->fn().  Both return an exit code (enum
 * cbw_exit); whoever finds an error prints it (one line, msg_error() or
 * usage_error()).
 */
#ifndef CBWCTL_CMD_H
#define CBWCTL_CMD_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libcbw.h>

/**
 * struct command - one cbwctl command.
 * @name: what the user types.
 * @args: the synopsis after the name.
 * @help: one line for 'cbwctl --help'.
 * @details: the rest of 'cbwctl COMMAND --help': description and options.
 * @min_args: fewest positional arguments.
 * @max_args: most positional arguments.
 * @options: getopt_long options, HELP_OPTION included; long-only options
 *	     use values from 256 on.
 * @opts_size: the size of the command's options struct.
 * @set_option: store one option's value in the options struct; NULL if
 *		the command has no option but --help.
 * @fn: take the positional arguments, check what is still unchecked and
 *	run the command.
 */
struct command {
	const char *name;
	const char *args;
	const char *help;
	const char *details;
	int min_args;
	int max_args;
	const struct option *options;
	size_t opts_size;
	int (*set_option)(const struct command *cmd, void *opts, int opt,
			  const char *arg);
	int (*fn)(const struct command *cmd, void *opts, char **args,
		  int nargs);
};

#define HELP_OPTION	{ "help", no_argument, NULL, 'h' }
#define OPTIONS_END	{ NULL, 0, NULL, 0 }

/**
 * usage_error() - print "cbwctl: CMD: <message> (see 'cbwctl CMD --help')".
 * @cmd: the command, or NULL for the global options.
 * @fmt: printf format of the message.
 *
 * Return: CBW_EXIT_USAGE.
 */
int usage_error(const struct command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * check_name() - usage_error() unless cbw_name_check() accepts @name.
 * @cmd: the command.
 * @name: a device name from the command line.
 * @for_create: see cbw_name_check().
 *
 * Return: CBW_EXIT_OK or CBW_EXIT_USAGE.
 */
int check_name(const struct command *cmd, const char *name, bool for_create);

/**
 * chunk_option() - parse the value of a chunk size option (--chunk,
 * --chunk-size): a size that cbw_chunk_size_check() accepts.
 * @cmd: the command.
 * @arg: the value.
 * @bytes: set on success.
 *
 * Return: CBW_EXIT_OK, or CBW_EXIT_USAGE after usage_error().
 */
int chunk_option(const struct command *cmd, const char *arg, uint64_t *bytes);

/**
 * format_option() - parse the value of a bitmap format option (--format,
 * --bitmap-format): "ranges", "raw" or "era".
 * @cmd: the command.
 * @option: the option's name, for the message ("--format").
 * @arg: its value.
 * @format: set on success.
 *
 * Return: CBW_EXIT_OK, or CBW_EXIT_USAGE after usage_error().
 */
int format_option(const struct command *cmd, const char *option,
		  const char *arg, enum cbw_format *format);

/**
 * era_block_option() - parse the value of --era-block-size: a number of
 * 512-byte sectors from 1 to 2^32 - 1 (dm-era's limit).
 * @cmd: the command.
 * @arg: the value.
 * @sectors: set on success.
 *
 * Return: CBW_EXIT_OK, or CBW_EXIT_USAGE after usage_error().
 */
int era_block_option(const struct command *cmd, const char *arg,
		     uint64_t *sectors);

/* The commands, in the order 'cbwctl --help' lists them. */
extern const struct command cmd_create;
extern const struct command cmd_remove;
extern const struct command cmd_snapshot;
extern const struct command cmd_release;
extern const struct command cmd_track;
extern const struct command cmd_untrack;
extern const struct command cmd_status;
extern const struct command cmd_set;
extern const struct command cmd_map;
extern const struct command cmd_bitmap;
extern const struct command cmd_backup;
extern const struct command cmd_restore;
extern const struct command cmd_discard;
extern const struct command cmd_export;

#endif /* CBWCTL_CMD_H */
