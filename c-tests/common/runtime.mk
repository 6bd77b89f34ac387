# The stand-in runtime (runtime.h), for the Makefile of every suite that
# plays the runtime. Include it after setting ROOT; then compile
# $(RUNTIME_SRC) into the suite's executables with $(RUNTIME_INC), make them
# depend on $(RUNTIME_DEP), and link them with $(call LOOMS_LINK,LIBDIR).
RUNTIME_DIR := $(ROOT)/c-tests/common
RUNTIME_SRC := $(RUNTIME_DIR)/runtime.c $(RUNTIME_DIR)/format.c
RUNTIME_DEP := $(RUNTIME_SRC) $(RUNTIME_DIR)/runtime.h $(ROOT)/include/looms.h
RUNTIME_INC := -I$(ROOT)/include -I$(RUNTIME_DIR)
# As a runtime links the module: -llooms, and the host's symbols exported so
# that the library's imports resolve against the executable.
LOOMS_LINK = -L$(1) -llooms -rdynamic -Wl,-rpath,$(1)
