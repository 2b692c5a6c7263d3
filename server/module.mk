# server/ — televisit-server (signaling over WSS, session store) and televisitctl (admin tool).
# Every server/*.c except the two mains goes into libtvserver.a so tests can link it.
SRV_MAINS := server/televisit-server.c server/televisitctl.c
SRV_SRCS := $(filter-out $(SRV_MAINS),$(wildcard server/*.c))
SRV_LIB := $(B)/libtvserver.a
LIBS += $(SRV_LIB)
# A binary is built once its main exists (keeps a partial tree buildable).
BINS += $(patsubst server/%.c,$(B)/%,$(wildcard $(SRV_MAINS)))
$(SRV_LIB): $(SRV_SRCS:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(B)/televisit-server: $(B)/server/televisit-server.o $(SRV_LIB) $(SIG_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(B)/televisitctl: $(B)/server/televisitctl.o $(SRV_LIB) $(SIG_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
