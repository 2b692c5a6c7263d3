# client/ — televisit-client, and the WSS client connection that tests share.
# The desktop window (client/tv-gtk-*.c) is linked into televisit-client only:
# libtvclient, which every test links, stays free of GTK.
CLI_MAINS := client/televisit-client.c
CLI_GTK_SRCS := $(wildcard client/tv-gtk-*.c)
CLI_SRCS := $(filter-out $(CLI_MAINS) $(CLI_GTK_SRCS),$(wildcard client/*.c))
CLI_LIB := $(B)/libtvclient.a
CLI_GTK_LIB := $(B)/libtvclientgtk.a
GTK_CFLAGS = $(shell pkg-config --cflags gtk+-3.0 2>/dev/null)
GTK_LIBS = $(shell pkg-config --libs gtk+-3.0 2>/dev/null)
LIBS += $(CLI_LIB) $(CLI_GTK_LIB)
BINS += $(patsubst client/%.c,$(B)/%,$(wildcard $(CLI_MAINS)))
$(CLI_LIB): $(CLI_SRCS:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(CLI_GTK_SRCS:%.c=$(B)/%.o): ALL_CFLAGS += $(GTK_CFLAGS)
$(CLI_GTK_LIB): $(CLI_GTK_SRCS:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(B)/televisit-client: $(B)/client/televisit-client.o $(CLI_GTK_LIB) $(CLI_LIB) $(MEDIA_LIB) $(SIG_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(GTK_LIBS)
# The window's screenshot tests (tests/client/test-gtk-*.c) read the PNGs with gdk-pixbuf.
PIXBUF_CFLAGS = $(shell pkg-config --cflags gdk-pixbuf-2.0 2>/dev/null)
PIXBUF_LIBS = $(shell pkg-config --libs gdk-pixbuf-2.0 2>/dev/null)
$(patsubst %.c,$(B)/%.o,$(wildcard tests/client/test-gtk-*.c)): ALL_CFLAGS += $(PIXBUF_CFLAGS)
$(patsubst %.c,$(B)/%,$(wildcard tests/client/test-gtk-*.c)): PKG_LIBS += $(PIXBUF_LIBS)
