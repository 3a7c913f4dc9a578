/*
 * Tables for people and for pipes.  On a terminal the columns are
 * aligned under a header; otherwise each row is one line of fields
 * separated by tabs, so that cut(1) and awk(1) can take them apart.
 * Either way a cell is escaped (out.c) when it is added: a tab or newline
 * inside a field is shown as \t or \n, and nothing in it reaches the
 * terminal as a control.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "text.h"

struct table {
	size_t	  ncols;
	size_t	  nrows;	/* the header, when there is one, included */
	size_t	  cap;
	char	**cells;
	int	  header;
};

static void
add_cells(struct table *t, va_list ap)
{
	const char	*s;
	size_t		 i;

	if ((t->nrows + 1) * t->ncols > t->cap) {
		t->cap = (t->nrows + 1) * t->ncols * 2;
		t->cells = xreallocarray(t->cells, t->cap, sizeof(char *));
	}
	for (i = 0; i < t->ncols; i++) {
		s = va_arg(ap, const char *);
		t->cells[t->nrows * t->ncols + i] = text_escaped(s != NULL ?
		    s : "-");
	}
	t->nrows++;
}

/*
 * A table without a header: key and value pages such as show.  On a
 * terminal the first column gets a colon, so that a key of two words
 * cannot be read as a key and a value.
 */
struct table *
table_new_plain(size_t ncols)
{
	struct table	*t = xcalloc(1, sizeof(*t));

	t->ncols = ncols;
	return t;
}

/* The column names follow ncols. */
struct table *
table_new(size_t ncols, ...)
{
	struct table	*t = table_new_plain(ncols);
	va_list		 ap;

	va_start(ap, ncols);
	add_cells(t, ap);
	va_end(ap);
	t->header = 1;
	return t;
}

/* ncols strings follow; NULL prints as "-". */
void
table_add(struct table *t, ...)
{
	va_list	ap;

	va_start(ap, t);
	add_cells(t, ap);
	va_end(ap);
}

/* Columns on a terminal: UTF-8 continuation bytes take no room. */
static size_t
text_width(const char *s)
{
	size_t	w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* Cells are escaped: no tab, newline or control is left in one. */
static void
print_field(const char *s)
{
	fputs(s, stdout);
}

static void
print_tsv(const struct table *t)
{
	size_t	r, i;

	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			if (i > 0)
				putchar('\t');
			print_field(t->cells[r * t->ncols + i]);
		}
		putchar('\n');
	}
}

/* The width of a cell as printed: keys of a plain table get a colon. */
static size_t
cell_width(const struct table *t, size_t r, size_t i)
{
	return text_width(t->cells[r * t->ncols + i]) +
	    (!t->header && i == 0);
}

static void
print_aligned(const struct table *t)
{
	size_t	*width, r, i, w;

	width = xreallocarray(NULL, t->ncols, sizeof(size_t));
	for (i = 0; i < t->ncols; i++) {
		width[i] = 0;
		for (r = 0; r < t->nrows; r++)
			if ((w = cell_width(t, r, i)) > width[i])
				width[i] = w;
	}
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			print_field(t->cells[r * t->ncols + i]);
			if (!t->header && i == 0)
				putchar(':');
			if (i + 1 == t->ncols)
				break;
			w = cell_width(t, r, i);
			printf("%*s", (int)(width[i] - w + 2), "");
		}
		putchar('\n');
	}
	free(width);
}

void
table_print(struct table *t, int aligned)
{
	if (aligned)
		print_aligned(t);
	else
		print_tsv(t);
}

void
table_free(struct table *t)
{
	size_t	i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
