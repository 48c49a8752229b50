#!/usr/bin/env python3
"""aria2's side of B3 and B5 in run.sh, through its JSON-RPC interface (aria2c --enable-rpc).

Calls are batched with system.multicall over one keep-alive connection, so that this client
is not what limits aria2.

    aria2_rpc.py jobs PORT COUNT URL_PREFIX DIR BATCH
        COUNT one-file downloads (URL_PREFIX + "f<i>.bin" -> DIR/f<i>.bin) added BATCH per
        multicall; waits until all stopped, checks all completed, purges the results
    aria2_rpc.py ready PORT TIMEOUT
        waits until aria2 answers and prints the wall-clock time of the answer (ready_at)
    aria2_rpc.py list PORT
        lists every download (tellActive, tellWaiting, tellStopped), like bitsadmin /list
    aria2_rpc.py input COUNT URL_PREFIX DIR FILE
        writes an --input-file of COUNT paused downloads (B5's store)
"""
import http.client
import json
import sys
import time


class Rpc:
    def __init__(self, port):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.next_id = 0

    def call(self, method, *params):
        self.next_id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method,
                           "params": list(params)})
        self.connection.request("POST", "/jsonrpc", body,
                                {"Content-Type": "application/json"})
        answer = json.loads(self.connection.getresponse().read())
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def multicall(self, calls):
        results = self.call("system.multicall",
                            [{"methodName": m, "params": p} for m, p in calls])
        for result in results:
            if isinstance(result, dict) and "code" in result:
                raise RuntimeError(f"multicall: {result}")
        return results


def jobs(port, count, url_prefix, directory, batch):
    rpc = Rpc(port)
    stopped_before = int(rpc.call("aria2.getGlobalStat")["numStoppedTotal"])
    start = time.monotonic()
    for first in range(0, count, batch):
        rpc.multicall([("aria2.addUri", [[f"{url_prefix}f{i}.bin"],
                                         {"dir": directory, "out": f"f{i}.bin"}])
                       for i in range(first, min(first + batch, count))])
    while True:
        stat = rpc.call("aria2.getGlobalStat")
        if (int(stat["numActive"]) == 0 and int(stat["numWaiting"]) == 0 and
                int(stat["numStoppedTotal"]) - stopped_before >= count):
            break
        time.sleep(0.002)
    seconds = time.monotonic() - start
    stopped = rpc.call("aria2.tellStopped", 0, count, ["status", "errorMessage"])
    failed = [s for s in stopped if s["status"] != "complete"]
    if failed or len(stopped) < min(count, 1000):
        sys.exit(f"aria2_rpc: {len(failed)} downloads failed: {failed[:3]}")
    rpc.call("aria2.purgeDownloadResult")
    print(f"jobs={count} seconds={seconds:.4f} rate={count / seconds:.1f}")


def ready(port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            Rpc(port).call("aria2.getVersion")
            print(f"ready_at={time.time():.6f}")
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.002)
    sys.exit("aria2_rpc: aria2 did not answer within the timeout")


def list_all(port):
    rpc = Rpc(port)
    start = time.monotonic()
    keys = ["gid", "status", "totalLength", "completedLength", "files"]
    total = rpc.call("aria2.getGlobalStat")
    count = int(total["numWaiting"]) + int(total["numStopped"]) + int(total["numActive"])
    listed = len(rpc.call("aria2.tellActive", keys))
    listed += len(rpc.call("aria2.tellWaiting", 0, count + 1, keys))
    listed += len(rpc.call("aria2.tellStopped", 0, count + 1, keys))
    seconds = time.monotonic() - start
    print(f"listed={listed} seconds={seconds:.4f}")


def write_input(count, url_prefix, directory, path):
    with open(path, "w") as out:
        for i in range(count):
            out.write(f"{url_prefix}f{i}.bin\n dir={directory}\n out=f{i}.bin\n pause=true\n")


def main():
    args = sys.argv[1:]
    if len(args) == 6 and args[0] == "jobs":
        jobs(int(args[1]), int(args[2]), args[3], args[4], int(args[5]))
    elif len(args) == 3 and args[0] == "ready":
        ready(int(args[1]), float(args[2]))
    elif len(args) == 2 and args[0] == "list":
        list_all(int(args[1]))
    elif len(args) == 5 and args[0] == "input":
        write_input(int(args[1]), args[2], args[3], args[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
