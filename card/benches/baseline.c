/*
 * Baseline for the card_latency benchmark: the least a program can do with libpcsclite to read
 * the NHI basic data after a card insertion, with the same APDUs as nhi-card.
 *
 *   baseline READER
 *
 * Loop: SCardGetStatusChange until a card is present in READER, SCardConnect (shared, T0|T1),
 * SCardBeginTransaction, SELECT the NHI applet, GET DATA (GET RESPONSE on 61xx),
 * SCardEndTransaction, SCardDisconnect(SCARD_LEAVE_CARD), then print "read <us>" (microseconds
 * from the status change to the end of the read) or "error <code>", and wait for the card to
 * leave. A line "inserted" is printed as soon as the card is seen, before reading, as the
 * watcher emits CardInserted before its read. The benchmark times insertion -> the "read" line
 * exactly as it times insertion -> the watcher's IdentityRead event. Exits when stdin closes.
 */
#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const BYTE SELECT_NHI[] = {0x00, 0xA4, 0x04, 0x00, 0x10, 0xD1, 0x58, 0x00, 0x00, 0x01, 0x00,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00};
static const BYTE GET_BASIC_DATA[] = {0x00, 0xCA, 0x11, 0x00, 0x02, 0x00, 0x00};

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int stdin_closed(void) {
    struct pollfd p = {0, POLLIN, 0};
    char buf[64];
    return poll(&p, 1, 0) > 0 && read(0, buf, sizeof buf) <= 0;
}

static LONG transmit(SCARDHANDLE card, DWORD proto, const BYTE *cmd, DWORD len, BYTE *out,
                     DWORD *out_len) {
    const SCARD_IO_REQUEST *pci = proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    DWORD cap = *out_len;
    LONG rv = SCardTransmit(card, pci, cmd, len, NULL, out, out_len);
    if (rv == SCARD_S_SUCCESS && *out_len == 2 && out[0] == 0x61) {
        BYTE get_response[] = {0x00, 0xC0, 0x00, 0x00, out[1]};
        *out_len = cap;
        rv = SCardTransmit(card, pci, get_response, sizeof get_response, NULL, out, out_len);
    }
    return rv;
}

static LONG read_card(SCARDCONTEXT ctx, const char *reader) {
    SCARDHANDLE card;
    DWORD proto;
    BYTE resp[258];
    DWORD len;
    LONG rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                           &card, &proto);
    if (rv != SCARD_S_SUCCESS) return rv;
    rv = SCardBeginTransaction(card);
    if (rv == SCARD_S_SUCCESS) {
        len = sizeof resp;
        rv = transmit(card, proto, SELECT_NHI, sizeof SELECT_NHI, resp, &len);
        if (rv == SCARD_S_SUCCESS) {
            len = sizeof resp;
            rv = transmit(card, proto, GET_BASIC_DATA, sizeof GET_BASIC_DATA, resp, &len);
            if (rv == SCARD_S_SUCCESS && !(len == 59 && resp[57] == 0x90 && resp[58] == 0x00))
                rv = SCARD_F_UNKNOWN_ERROR;
        }
        SCardEndTransaction(card, SCARD_LEAVE_CARD);
    }
    SCardDisconnect(card, SCARD_LEAVE_CARD);
    return rv;
}

int main(int argc, char **argv) {
    SCARDCONTEXT ctx;
    SCARD_READERSTATE state;
    if (argc != 2) {
        fprintf(stderr, "usage: %s READER\n", argv[0]);
        return 2;
    }
    if (SCardEstablishContext(SCARD_SCOPE_USER, NULL, NULL, &ctx) != SCARD_S_SUCCESS) return 1;
    memset(&state, 0, sizeof state);
    state.szReader = argv[1];
    state.dwCurrentState = SCARD_STATE_UNAWARE;
    int had_card = 0;
    while (!stdin_closed()) {
        LONG rv = SCardGetStatusChange(ctx, 1000, &state, 1);
        if (rv == (LONG)SCARD_E_TIMEOUT) continue;
        if (rv != SCARD_S_SUCCESS) return 1;
        double changed = now_us();
        state.dwCurrentState = state.dwEventState;
        int present = (state.dwEventState & SCARD_STATE_PRESENT) != 0;
        if (present && !had_card) {
            fputs("inserted\n", stdout);
            fflush(stdout);
            rv = read_card(ctx, argv[1]);
            if (rv == SCARD_S_SUCCESS)
                printf("read %.1f\n", now_us() - changed);
            else
                printf("error %lx\n", (unsigned long)rv);
            fflush(stdout);
        }
        had_card = present;
    }
    SCardReleaseContext(ctx);
    return 0;
}
