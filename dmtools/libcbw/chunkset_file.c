// SPDX-License-Identifier: GPL-2.0
/*
 * Chunk sets from files: the ranges, raw and era formats; see chunkset_file.h.
 *
 * The file is read once, from its start to its end, so that a pipe will
 * do: the first BITMAP_DETECT_BYTES are read ahead for the detection and
 * then handed to the parser before the rest (struct input).  The era
 * format is parsed by libexpat.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "error.h"
#include "chunkset_file.h"
#include "size.h"

#define READ_BLOCK	65536

/* A file being read: the bytes read ahead first, then the rest. */
struct input {
	FILE *f;
	const char *name;
	unsigned char head[BITMAP_DETECT_BYTES];
	size_t head_len;
	size_t head_pos;
	int error;		/* errno of a failed read, 0 if none */
};

/* Fill in->head; return false if reading failed (in->error). */
static bool input_start(struct input *in)
{
	in->head_len = fread(in->head, 1, sizeof(in->head), in->f);
	in->head_pos = 0;
	if (ferror(in->f)) {
		in->error = errno ? errno : EIO;
		return false;
	}
	return true;
}

/* Read up to @len bytes; fewer only at the end of the file or on error. */
static size_t input_read(struct input *in, unsigned char *buf, size_t len)
{
	size_t n = in->head_len - in->head_pos;

	if (n > len)
		n = len;
	memcpy(buf, in->head + in->head_pos, n);
	in->head_pos += n;
	if (n < len) {
		n += fread(buf + n, 1, len - n, in->f);
		if (ferror(in->f))
			in->error = errno ? errno : EIO;
	}
	return n;
}

/* The next byte, or EOF at the end of the file or on error. */
static int input_getc(struct input *in)
{
	int c;

	if (in->head_pos < in->head_len)
		return in->head[in->head_pos++];
	c = getc(in->f);
	if (c == EOF && ferror(in->f))
		in->error = errno ? errno : EIO;
	return c;
}

__attribute__((format(printf, 3, 4)))
static int fail(struct bitmap_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
	return code;
}

static int read_error(const struct input *in, struct bitmap_error *err)
{
	return fail(err, -EIO, "cannot read %s: %s", in->name,
		    strerror(in->error));
}

static int no_memory(struct bitmap_error *err)
{
	return fail(err, -EIO, "out of memory");
}

/*
 * Parse the decimal number s[0..len) (digits only, at least one).  Return
 * NULL or why not.
 */
static const char *parse_number(const char *s, size_t len, uint64_t *v)
{
	const char *p = s, *why;
	uint64_t n;

	why = decimal_take(&p, UINT64_MAX, &n);
	if (!why && p != s + len)
		why = "not a number";
	if (!why)
		*v = n;
	return why;
}

bool cbw_format_parse(const char *word, enum cbw_format *format)
{
	static const enum cbw_format formats[] = {
		CBW_FORMAT_RANGES, CBW_FORMAT_RAW, CBW_FORMAT_ERA,
	};
	size_t i;

	if (!word || !format)
		return false;
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (!strcmp(word, cbw_format_name(formats[i]))) {
			*format = formats[i];
			return true;
		}
	}
	return false;
}

bool format_known(enum cbw_format format)
{
	switch (format) {
	case CBW_FORMAT_AUTO:
	case CBW_FORMAT_RANGES:
	case CBW_FORMAT_RAW:
	case CBW_FORMAT_ERA:
		return true;
	}
	return false;
}

const char *cbw_format_name(enum cbw_format format)
{
	switch (format) {
	case CBW_FORMAT_RANGES:
		return "ranges";
	case CBW_FORMAT_RAW:
		return "raw";
	case CBW_FORMAT_ERA:
		return "era";
	default:
		return "auto";
	}
}

static bool is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

enum cbw_format bitmap_detect(const void *head, size_t len)
{
	const unsigned char *p = head;
	size_t i, first;

	if (len > BITMAP_DETECT_BYTES)
		len = BITMAP_DETECT_BYTES;
	for (first = 0; first < len && is_blank(p[first]); first++)
		;
	if (first < len && p[first] == '<')
		return CBW_FORMAT_ERA;
	for (i = 0; i < len; i++)
		if (!is_blank(p[i]) && (p[i] < 0x20 || p[i] > 0x7e))
			return CBW_FORMAT_RAW;
	if (first == len || p[first] == '#' ||
	    (p[first] >= '0' && p[first] <= '9'))
		return CBW_FORMAT_RANGES;
	return CBW_FORMAT_RAW;
}

/* ranges */

/*
 * @s shortened for a message: at most 40 characters, anything but
 * printable ASCII as '?'.
 */
static const char *quote(const char *s, size_t len, char *buf, size_t size)
{
	size_t i, n = len < size - 4 ? len : size - 4;

	if (n > 40)
		n = 40;
	for (i = 0; i < n; i++)
		buf[i] = s[i] >= 0x20 && s[i] <= 0x7e ? s[i] : '?';
	strcpy(buf + i, i < len ? "..." : "");
	return buf;
}

/*
 * Read one line into @line (without its line break, NUL-terminated) and
 * set *len.  Return 1 for a line, 0 at the end of the file, -1 if the line
 * is too long, -2 on a read error.
 */
static int read_line(struct input *in, char *line, size_t *len)
{
	size_t n = 0;
	int c;

	while ((c = input_getc(in)) != EOF && c != '\n') {
		if (n == RANGES_LINE_MAX)
			return -1;
		line[n++] = (char)c;
	}
	line[n] = '\0';
	*len = n;
	if (in->error)
		return -2;
	return c == EOF && !n ? 0 : 1;
}

/* Parse one line of a ranges file, numbered @no, into @out. */
static int ranges_line(const struct input *in, unsigned long no,
		       char *line, size_t len, const struct bitmap_geometry *g,
		       struct chunk_runs *out, struct bitmap_error *err)
{
	char *hash = memchr(line, '#', len), *dash, q[48];
	uint64_t first, last;
	const char *why;

	if (hash)
		len = hash - line;
	while (len && is_blank(line[len - 1]))
		len--;
	while (len && is_blank(*line)) {
		line++;
		len--;
	}
	if (!len)
		return 0;

	dash = memchr(line, '-', len);
	why = parse_number(line, dash ? (size_t)(dash - line) : len, &first);
	if (!why) {
		last = first;
		if (dash)
			why = parse_number(dash + 1, len - (dash + 1 - line), &last);
	}
	if (!why && last < first)
		why = "it ends before it starts";
	if (why)
		return fail(err, -EINVAL,
			    "%s:%lu: invalid range '%s': %s (want N or N-M, chunk numbers)",
			    in->name, no, quote(line, len, q, sizeof(q)), why);
	if (last >= g->chunks)
		return fail(err, -ERANGE,
			    "%s:%lu: range '%s' is outside the device: its last chunk is %llu",
			    in->name, no, quote(line, len, q, sizeof(q)),
			    (unsigned long long)g->chunks - 1);
	if (!runs_add(out, first, last))
		return no_memory(err);
	return 0;
}

static int parse_ranges(struct input *in, const struct bitmap_geometry *g,
			struct chunk_runs *out, struct bitmap_error *err)
{
	char line[RANGES_LINE_MAX + 1];
	unsigned long no = 0;
	size_t len;
	int r;

	for (;;) {
		r = read_line(in, line, &len);
		if (r == 0)
			break;
		no++;
		if (r == -1)
			return fail(err, -EINVAL,
				    "%s:%lu: line longer than %d characters",
				    in->name, no, RANGES_LINE_MAX);
		if (r == -2)
			return read_error(in, err);
		if (memchr(line, '\0', len))
			return fail(err, -EINVAL,
				    "%s:%lu: a NUL byte in a text file (a raw bitmap? use the raw format)",
				    in->name, no);
		r = ranges_line(in, no, line, len, g, out, err);
		if (r)
			return r;
	}
	return 0;
}

/* raw */

static int raw_bit_beyond(const struct input *in, uint64_t byte,
			  unsigned int bit, const struct bitmap_geometry *g,
			  struct bitmap_error *err)
{
	return fail(err, -ERANGE,
		    "%s: bit %u of byte %llu is set: chunk %llu is outside the device, which has %llu chunks",
		    in->name, bit, (unsigned long long)byte,
		    (unsigned long long)(byte * 8 + bit),
		    (unsigned long long)g->chunks);
}

static int parse_raw(struct input *in, const struct bitmap_geometry *g,
		     struct chunk_runs *out, struct bitmap_error *err)
{
	unsigned char buf[READ_BLOCK];
	uint64_t byte = 0, chunk;
	unsigned int bit;
	size_t n, i;

	do {
		n = input_read(in, buf, sizeof(buf));
		if (in->error)
			return read_error(in, err);
		for (i = 0; i < n; i++, byte++) {
			if (!buf[i])
				continue;
			for (bit = 0; bit < 8; bit++) {
				if (!(buf[i] & (1u << bit)))
					continue;
				chunk = byte * 8 + bit;
				if (chunk >= g->chunks)
					return raw_bit_beyond(in, byte, bit, g, err);
				if (!runs_add(out, chunk, chunk))
					return no_memory(err);
			}
		}
	} while (n == sizeof(buf));
	return 0;
}

/* era */

struct era_parse {
	XML_Parser parser;
	const struct input *in;
	const struct bitmap_geometry *g;
	struct chunk_runs *out;
	struct bitmap_error *err;
	int depth;		/* of the element being read; 0 outside */
	int code;		/* the first error's errno, negative */
};

/* Record an error on the current line and stop the parser. */
__attribute__((format(printf, 3, 4)))
static void era_fail(struct era_parse *e, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (e->code)
		return;
	e->code = code;
	n = snprintf(e->err->text, sizeof(e->err->text), "%s:%lu: ",
		     e->in->name,
		     (unsigned long)XML_GetCurrentLineNumber(e->parser));
	if (n < 0 || (size_t)n >= sizeof(e->err->text))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(e->err->text + n, sizeof(e->err->text) - n, fmt, ap);
	va_end(ap);
	XML_StopParser(e->parser, XML_FALSE);
}

/* Add the era blocks @first to @last (inclusive) as chunks. */
static void era_add(struct era_parse *e, uint64_t first, uint64_t last)
{
	uint64_t era = e->g->era_block_sectors, chunk = e->g->chunk_sectors;
	uint64_t end, outside, start, stop;

	/* The first era block that starts at or after the last chunk's end. */
	if (__builtin_mul_overflow(e->g->chunks, chunk, &end))
		end = UINT64_MAX;
	outside = end / era + (end % era != 0);
	if (last >= outside || __builtin_mul_overflow(first, era, &start)) {
		era_fail(e, -ERANGE,
			 "era block %llu is outside the device (%llu chunks of %llu sectors, era blocks of %llu sectors)",
			 (unsigned long long)(first > outside ? first : outside),
			 (unsigned long long)e->g->chunks,
			 (unsigned long long)chunk, (unsigned long long)era);
		return;
	}
	/* The sector after the last era block; it may reach past the end. */
	if (__builtin_mul_overflow(last + 1, era, &stop) || stop > end)
		stop = end;
	if (!runs_add(e->out, start / chunk, (stop - 1) / chunk))
		era_fail(e, -EIO, "out of memory");
}

/*
 * The value of the attribute @name among @attrs, checking that every
 * attribute is one of @allowed (NULL-terminated).  NULL (after an error)
 * if it is missing or another is there.
 */
static const char *era_attr(struct era_parse *e, const char *element,
			    const char **attrs, const char *name,
			    const char *const *allowed)
{
	const char *value = NULL;
	const char *const *a;
	size_t i;

	for (i = 0; attrs[i]; i += 2) {
		for (a = allowed; *a && strcmp(*a, attrs[i]); a++)
			;
		if (!*a) {
			era_fail(e, -EINVAL,
				 "unexpected attribute '%s' in <%s>", attrs[i],
				 element);
			return NULL;
		}
		if (!strcmp(attrs[i], name))
			value = attrs[i + 1];
	}
	if (!value)
		era_fail(e, -EINVAL, "<%s> without the attribute '%s'",
			 element, name);
	return value;
}

/* Parse the number @value of the attribute @name of <@element>. */
static bool era_number(struct era_parse *e, const char *element,
		       const char *name, const char *value, uint64_t *v)
{
	const char *why = parse_number(value, strlen(value), v);
	char q[48];

	if (why)
		era_fail(e, -EINVAL, "<%s %s=\"%s\">: %s", element, name,
			 quote(value, strlen(value), q, sizeof(q)), why);
	return !why;
}

static void era_range(struct era_parse *e, const char **attrs)
{
	static const char *const allowed[] = { "begin", "end", NULL };
	const char *b, *en;
	uint64_t begin, end;

	b = era_attr(e, "range", attrs, "begin", allowed);
	en = b ? era_attr(e, "range", attrs, "end", allowed) : NULL;
	if (!en || !era_number(e, "range", "begin", b, &begin) ||
	    !era_number(e, "range", "end", en, &end))
		return;
	if (end <= begin) {
		era_fail(e, -EINVAL,
			 "<range begin=\"%llu\" end=\"%llu\">: empty range (end is exclusive)",
			 (unsigned long long)begin, (unsigned long long)end);
		return;
	}
	era_add(e, begin, end - 1);
}

static void era_block(struct era_parse *e, const char **attrs)
{
	static const char *const allowed[] = { "block", NULL };
	const char *b = era_attr(e, "block", attrs, "block", allowed);
	uint64_t block;

	if (b && era_number(e, "block", "block", b, &block))
		era_add(e, block, block);
}

static void XMLCALL era_start(void *data, const char *el, const char **attrs)
{
	struct era_parse *e = data;
	char q[48];

	if (e->code)
		return;
	if (e->depth == 0 && strcmp(el, "blocks"))
		era_fail(e, -EINVAL,
			 "the document is <%s>, not <blocks> (want the output of era_invalidate)",
			 quote(el, strlen(el), q, sizeof(q)));
	else if (e->depth == 1 && !strcmp(el, "range"))
		era_range(e, attrs);
	else if (e->depth == 1 && !strcmp(el, "block"))
		era_block(e, attrs);
	else if (e->depth >= 1)
		era_fail(e, -EINVAL, "unexpected element <%s> in <%s>",
			 quote(el, strlen(el), q, sizeof(q)),
			 e->depth == 1 ? "blocks" : "range> or <block");
	else if (attrs[0])
		era_fail(e, -EINVAL, "unexpected attribute '%s' in <blocks>",
			 attrs[0]);
	e->depth++;
}

static void XMLCALL era_end(void *data, const char *el)
{
	struct era_parse *e = data;

	(void)el;
	e->depth--;
}

static void XMLCALL era_text(void *data, const char *s, int len)
{
	struct era_parse *e = data;
	int i;

	for (i = 0; i < len; i++) {
		if (!is_blank(s[i])) {
			era_fail(e, -EINVAL, "unexpected text in <blocks>");
			return;
		}
	}
}

/* No DTD: no entities to expand, nothing to fetch. */
static void XMLCALL era_doctype(void *data, const char *name,
				const char *sysid, const char *pubid,
				int has_internal_subset)
{
	(void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
	era_fail(data, -EINVAL, "a document type declaration is not allowed");
}

static int era_feed(struct input *in, struct era_parse *e)
{
	unsigned char buf[READ_BLOCK];
	bool last;
	size_t n;

	do {
		n = input_read(in, buf, sizeof(buf));
		if (in->error)
			return read_error(in, e->err);
		last = n < sizeof(buf);
		if (XML_Parse(e->parser, (const char *)buf, (int)n, last) !=
		    XML_STATUS_ERROR)
			continue;
		if (e->code)
			return e->code;
		return fail(e->err, -EINVAL, "%s:%lu: %s", in->name,
			    (unsigned long)XML_GetCurrentLineNumber(e->parser),
			    XML_ErrorString(XML_GetErrorCode(e->parser)));
	} while (!last);
	return e->code;
}

static int parse_era(struct input *in, const struct bitmap_geometry *g,
		     struct chunk_runs *out, struct bitmap_error *err)
{
	struct era_parse e = {
		.in = in, .g = g, .out = out, .err = err,
	};
	int r;

	if (!g->era_block_sectors)
		return fail(err, -EINVAL,
			    "%s is era_invalidate output: the era block size is needed (--era-block-size SECTORS)",
			    in->name);
	e.parser = XML_ParserCreate(NULL);
	if (!e.parser)
		return no_memory(err);
	XML_SetUserData(e.parser, &e);
	XML_SetElementHandler(e.parser, era_start, era_end);
	XML_SetCharacterDataHandler(e.parser, era_text);
	XML_SetStartDoctypeDeclHandler(e.parser, era_doctype);
	r = era_feed(in, &e);
	XML_ParserFree(e.parser);
	return r;
}

int bitmap_parse(FILE *f, const char *name, enum cbw_format format,
		 const struct bitmap_geometry *g, struct chunk_runs *out,
		 enum cbw_format *used, struct bitmap_error *err)
{
	struct input *in;
	int r;

	/* The read-ahead buffer is too large for the stack of a parser. */
	in = calloc(1, sizeof(*in));
	if (!in)
		return no_memory(err);
	in->f = f;
	in->name = name;
	if (!input_start(in)) {
		r = read_error(in, err);
		goto out;
	}
	if (format == CBW_FORMAT_AUTO)
		format = bitmap_detect(in->head, in->head_len);
	if (used)
		*used = format;

	switch (format) {
	case CBW_FORMAT_RANGES:
		r = parse_ranges(in, g, out, err);
		break;
	case CBW_FORMAT_RAW:
		r = parse_raw(in, g, out, err);
		break;
	default:
		r = parse_era(in, g, out, err);
		break;
	}
	if (!r)
		runs_normalize(out);
out:
	free(in);
	return r;
}
