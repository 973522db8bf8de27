/* Instructions a firmware executes inside chosen functions, under QEMU:
   a count of every executed instruction, read when a block that starts at
   a function's entry runs and again when a block holding one of its return
   instructions runs. Arguments: enter=HEX (repeatable), leave=HEX (the
   address of a return instruction, repeatable), first=N (count only the
   first N calls; 0, the default, counts all), out=PATH. For QEMU's plugin
   API version 1 (QEMU 7.2), whose few declarations are written out here
   because Debian's QEMU ships no header. Built and run by run.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };

extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, void (*)(qemu_plugin_id_t, struct qemu_plugin_tb *));
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
extern uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *);
extern struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *, size_t);
extern uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *);
extern void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *, enum qemu_plugin_op, void *, uint64_t);
extern void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *, void (*)(unsigned int, void *),
                                                 enum qemu_plugin_cb_flags, void *);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t, void (*)(qemu_plugin_id_t, void *), void *);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t executed, inside, entered_at, calls, first;
static int depth;
static uint64_t enters[64], leaves[256];
static int n_enters, n_leaves;
static char path[4096] = "region.txt";

static void on_enter(unsigned int vcpu, void *p) {
    if (depth++ == 0) {
        entered_at = executed;
        calls++;
    }
}

static void on_leave(unsigned int vcpu, void *p) {
    if (depth > 0 && --depth == 0 && (first == 0 || calls <= first)) inside += executed - entered_at;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    size_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t start = qemu_plugin_tb_vaddr(tb) & ~1ull;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed, n);
    for (int i = 0; i < n_enters; i++)
        if (enters[i] == start) qemu_plugin_register_vcpu_tb_exec_cb(tb, on_enter, QEMU_PLUGIN_CB_NO_REGS, NULL);
    for (size_t k = 0; k < n; k++) {
        uint64_t a = qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, k)) & ~1ull;
        for (int i = 0; i < n_leaves; i++)
            if (leaves[i] == a) qemu_plugin_register_vcpu_tb_exec_cb(tb, on_leave, QEMU_PLUGIN_CB_NO_REGS, NULL);
    }
}

static void at_end(qemu_plugin_id_t id, void *p) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "%llu instructions inside %llu of %llu calls (%llu executed in all)\n", (unsigned long long)inside,
            (unsigned long long)(first && first < calls ? first : calls), (unsigned long long)calls,
            (unsigned long long)executed);
    fclose(f);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                                                char **argv) {
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) snprintf(path, sizeof path, "%s", argv[i] + 4);
        else if (strncmp(argv[i], "enter=", 6) == 0 && n_enters < 64) enters[n_enters++] = strtoull(argv[i] + 6, NULL, 16) & ~1ull;
        else if (strncmp(argv[i], "leave=", 6) == 0 && n_leaves < 256) leaves[n_leaves++] = strtoull(argv[i] + 6, NULL, 16) & ~1ull;
        else if (strncmp(argv[i], "first=", 6) == 0) first = strtoull(argv[i] + 6, NULL, 10);
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, at_end, NULL);
    return 0;
}
