"""Host figures under AWS's names: AWS/EC2 per instance and, when a service is configured, AWS/ECS.

CloudWatch publishes ECS service metrics with both ClusterName and ServiceName; the runbook's alarm
names ServiceName alone, so both dimension sets are published and either form of alarm finds data.
"""

from __future__ import annotations

import socket
import time

import psutil

from rexwatch.agent.collectors.base import Deltas, as_dims
from rexwatch.agent.config import AgentConfig
from rexwatch.agent.model import Collected, Point


class HostCollector:
    name = "host"

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg.host
        self.instance = self.cfg.instance_id or socket.gethostname()
        self.deltas = Deltas()
        # Primes psutil's CPU counter so the first collect reports usage since start.
        psutil.cpu_percent(None)
        self.primed = time.monotonic()

    def collect(self, now: float) -> Collected:
        # Usage over a few microseconds is noise (0 or 100): a collect right after start measures
        # over a short window instead.
        wait = 0.5 - (time.monotonic() - self.primed)
        cpu = psutil.cpu_percent(wait if wait > 0 else None)
        mem = psutil.virtual_memory()
        ec2 = as_dims({"InstanceId": self.instance})
        pts = [
            Point("AWS/EC2", "CPUUtilization", cpu, "Percent", ec2),
            Point("AWS/EC2", "MemoryUtilization", mem.percent, "Percent", ec2),
        ]
        for mount in self.cfg.disks:
            try:
                du = psutil.disk_usage(mount)
            except OSError:
                continue
            dims = as_dims({"InstanceId": self.instance, "MountPath": mount})
            pts.append(Point("AWS/EC2", "DiskSpaceUtilization", du.percent, "Percent", dims))
            pts.append(Point("AWS/EC2", "DiskSpaceAvailable", du.free, "Bytes", dims))
        io = psutil.disk_io_counters()
        if io is not None:
            for metric, value in (("DiskReadBytes", io.read_bytes), ("DiskWriteBytes", io.write_bytes),
                                  ("DiskReadOps", io.read_count), ("DiskWriteOps", io.write_count)):
                d = self.deltas.delta(metric, value, now)
                if d is not None:
                    pts.append(Point("AWS/EC2", metric, d[0], "Bytes" if "Bytes" in metric else "Count", ec2))
        net = psutil.net_io_counters()
        for metric, value in (("NetworkIn", net.bytes_recv), ("NetworkOut", net.bytes_sent)):
            d = self.deltas.delta(metric, value, now)
            if d is not None:
                pts.append(Point("AWS/EC2", metric, d[0], "Bytes", ec2))
        if self.cfg.service:
            both = as_dims({"ClusterName": self.cfg.cluster, "ServiceName": self.cfg.service})
            alone = as_dims({"ServiceName": self.cfg.service})
            for dims in {both, alone}:
                pts.append(Point("AWS/ECS", "CPUUtilization", cpu, "Percent", dims))
                pts.append(Point("AWS/ECS", "MemoryUtilization", mem.percent, "Percent", dims))
        return Collected(points=pts)

    def close(self) -> None:
        pass
