# media/ — the webrtcbin engine: pipelines, negotiation, ICE, statistics.
MEDIA_SRCS := $(wildcard media/*.c)
MEDIA_LIB := $(B)/libtvmedia.a
LIBS += $(MEDIA_LIB)
$(MEDIA_LIB): $(MEDIA_SRCS:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
