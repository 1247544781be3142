"""A delay line for the lab: every packet routed into a TUN device comes back out of it DELAY ms
later. This machine's kernel has no netem (CONFIG_NET_SCH_NETEM is off), so `lab.sh delay`
routes one direction of the path through this instead: real packets, a real kernel forwarding
them, only held back. Usage: delay.py DEVICE DELAY_MS (run inside the namespace; exits after
10 minutes, or when the namespace is deleted)."""
import fcntl
import heapq
import os
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

device, delay = sys.argv[1], int(sys.argv[2]) / 1000.0
fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", device.encode(), IFF_TUN | IFF_NO_PI))
queue = []  # (due, sequence, packet)
sequence = 0
end = time.monotonic() + 600
while time.monotonic() < end:
    now = time.monotonic()
    wait = max(0.0, queue[0][0] - now) if queue else 1.0
    readable, _, _ = select.select([fd], [], [], wait)
    if readable:
        while True:
            try:
                packet = os.read(fd, 65536)
            except BlockingIOError:
                break
            sequence += 1
            heapq.heappush(queue, (time.monotonic() + delay, sequence, packet))
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        try:
            os.write(fd, heapq.heappop(queue)[2])
        except OSError:
            pass  # a packet the kernel will not take back is a lost packet, as on a real path
