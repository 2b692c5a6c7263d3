# signaling/ — the consult protocol: messages, validation, room state machine. No I/O.
SIG_SRCS := $(wildcard signaling/*.c)
SIG_LIB := $(B)/libtvsig.a
LIBS += $(SIG_LIB)
$(SIG_LIB): $(SIG_SRCS:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
