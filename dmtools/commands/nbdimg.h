/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Images that existing tools read, written and read through QEMU's tools
 * (Debian's qemu-utils) and libnbd, never by a format parser of ours:
 * qemu-img makes an image (a qcow2 whose backing file is the previous
 * backup) and says what an image is; qemu-nbd serves it to libnbd on a
 * private socket (libnbd's systemd socket activation: libnbd makes the
 * socket, starts qemu-nbd on it and ends it at nbd_close()).  For cbwctl
 * backup --incremental and cbwctl restore.
 */
#ifndef CBWCTL_NBDIMG_H
#define CBWCTL_NBDIMG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nbd_handle;

/* The programs, overridable for tests (CBWCTL_QEMU_IMG, CBWCTL_QEMU_NBD). */
#define QEMU_IMG_DEFAULT	"qemu-img"
#define QEMU_NBD_DEFAULT	"qemu-nbd"

/**
 * img_info_parse() - the format and size in the JSON of 'qemu-img info
 * --output=json' (its top-level "format" and "virtual-size").
 * @json: the output.
 * @format: set to the format name ("qcow2", "raw").
 * @format_len: the size of @format.
 * @size: set to the virtual size in bytes.
 *
 * Return: NULL on success, else a short static text saying what is wrong.
 */
const char *img_info_parse(const char *json, char *format, size_t format_len,
			   uint64_t *size);

/**
 * img_info() - run 'qemu-img info --output=json -- PATH' and parse it.
 * @path: the image.
 * @format: as img_info_parse().
 * @format_len: the size of @format.
 * @size: as img_info_parse().
 * @err: set to why it failed (qemu-img's message).
 * @err_len: the size of @err.
 *
 * Return: 0 or -1.
 */
int img_info(const char *path, char *format, size_t format_len,
	     uint64_t *size, char *err, size_t err_len);

/**
 * img_create_qcow2() - 'qemu-img create -f qcow2 [-b BACKING -F FMT] PATH
 * SIZE'.
 * @path: the new image.
 * @size: its virtual size in bytes.
 * @backing: NULL, or the backing file as it is to be stored (relative to
 *	     @path's folder, or absolute).
 * @backing_format: its format.
 * @err: set to why it failed.
 * @err_len: the size of @err.
 *
 * Return: 0 or -1.
 */
int img_create_qcow2(const char *path, uint64_t size, const char *backing,
		     const char *backing_format, char *err, size_t err_len);

/**
 * img_nbd_open() - serve @path with qemu-nbd (format @format, read-only if
 * @read_only) and connect libnbd to it.
 * @path: the image.
 * @format: its format (never probed: a raw image could pose as another).
 * @read_only: serve it read-only.
 * @err: set to why it failed (libnbd's error, or that libnbd could not
 *	 be loaded: see nbdlib.h).
 * @err_len: the size of @err.
 *
 * Return: the handle (nbdlib.close() ends qemu-nbd too), or NULL.
 */
struct nbd_handle *img_nbd_open(const char *path, const char *format,
				bool read_only, char *err, size_t err_len);

/**
 * img_backing_name() - how to store @prev as the backing file of an image
 * written at @out: its name alone when both are in the same folder (the
 * chain can then be moved as a whole), else its absolute path.
 * @prev: the previous image.
 * @out: the new image's path (it need not exist; its folder must).
 * @buf: where the name goes.
 * @len: the size of @buf.
 *
 * Return: 0, or -1 with errno set (realpath() failed, too long).
 */
int img_backing_name(const char *prev, const char *out, char *buf, size_t len);

#endif /* CBWCTL_NBDIMG_H */
