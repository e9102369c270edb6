/* server.h — start and stop tests/http_server.py for a C test (static
 * functions: include it once per test program). The server runs from the
 * repo root (tests run with cwd = repo root) and dies with the test
 * (PR_SET_PDEATHSIG). base holds "http://127.0.0.1:PORT". */
#ifndef WF_TEST_SERVER_H
#define WF_TEST_SERVER_H

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../stdlib/std.h"

static char base[64]; /* "http://127.0.0.1:PORT" */
static char tmpdir[64];
static pid_t server_pid;

static int64_t mono_ms(void) { return std_mono_ns() / 1000000; }

/* ---- the server -------------------------------------------------------- */

static int server_start(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/wfdsl-http.XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    char portf[128], logf[128];
    snprintf(portf, sizeof portf, "%s/port", tmpdir);
    snprintf(logf, sizeof logf, "%s/log", tmpdir);
    pid_t parent = getpid();
    server_pid = fork();
    if (server_pid < 0) return -1;
    if (server_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(1);
        int dn = open("/dev/null", O_RDWR);
        if (dn >= 0) {
            dup2(dn, 0);
            dup2(dn, 1);
        }
        execlp("python3", "python3", "tests/http_server.py", "--port-file", portf, "--log", logf,
               (char *)NULL);
        _exit(127);
    }
    int64_t until = mono_ms() + 5000;
    while (mono_ms() < until) {
        FILE *f = fopen(portf, "r");
        int port = 0;
        if (f) {
            if (fscanf(f, "%d", &port) != 1) port = 0;
            fclose(f);
        }
        if (port > 0) {
            snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
            return 0;
        }
        if (waitpid(server_pid, NULL, WNOHANG) == server_pid) {
            server_pid = 0;
            return -1;
        }
        usleep(20000);
    }
    return -1;
}

static void server_stop(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
    char p[160];
    snprintf(p, sizeof p, "%s/port", tmpdir);
    unlink(p);
    snprintf(p, sizeof p, "%s/log", tmpdir);
    unlink(p);
    rmdir(tmpdir);
}

#endif
