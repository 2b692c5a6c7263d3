# client/ — televisit-client, and the WSS client connection that tests share.
CLI_MAINS := client/televisit-client.c
CLI_SRCS := $(filter-out $(CLI_MAINS),$(wildcard client/*.c))
CLI_LIB := $(B)/libtvclient.a
LIBS += $(CLI_LIB)
BINS += $(patsubst client/%.c,$(B)/%,$(wildcard $(CLI_MAINS)))
$(CLI_LIB): $(CLI_SRCS:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(B)/televisit-client: $(B)/client/televisit-client.o $(CLI_LIB) $(MEDIA_LIB) $(SIG_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
