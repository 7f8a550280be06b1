"""The dev cloud's virt driver: nova's fake driver that fetches each server's image from glance.

NOTE: this module runs inside nova-compute, in the dev cloud's venv, never in stacktap's own
process: ``up --with compute`` copies its text into that venv's ``nova.virt`` package (the
only place nova loads drivers from) and names its class as nova's ``compute_driver``
(:func:`stacktap.devcloud.compute.install_driver`, ``compute.DRIVER``). It imports nova, which
stacktap's own environment does not have.

nova's fake drivers boot nothing and never read the image, so ``server create`` on them shows no
compute -> glance call, while on a real host the driver downloads the image before it boots
(libvirt: ``images.fetch_to_raw``, image metadata then data). This driver does the same
download, into the server's instance directory (as a driver without an image cache does, so
every boot fetches), and removes it when the server is destroyed. A snapshot (``server image
create``, shelve) uploads that disk as the new image's data, as a real driver uploads its
disk: the fake driver uploads nothing, and the image it leaves queued could not be downloaded
again (an unshelve boots from it). The rest is ``FakeDriverWithoutFakeNodes``: one node with a
stable uuid, so nova-compute restarts.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any

from nova.virt import fake, images

LOG = logging.getLogger(__name__)


class ImageFetchingFakeDriver(fake.FakeDriverWithoutFakeNodes):
    """A fake hypervisor that downloads a server's image from glance before "booting" it."""

    def spawn(
        self,
        context: Any,
        instance: Any,
        image_meta: Any,
        injected_files: Any,
        admin_password: Any,
        allocations: Any,
        network_info: Any = None,
        block_device_info: Any = None,
        power_on: bool = True,
        accel_info: Any = None,
    ) -> None:
        if instance.image_ref:  # NOTE: empty for a server booted from a volume
            path = self._disk(instance)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            image = images.get_info(context, instance.image_ref)
            if image.get("status") == "active":
                images.fetch(context, instance.image_ref, path, trusted_certs=instance.trusted_certs)
            else:
                # NOTE: an image without data (the snapshot of a server that had no disk here)
                LOG.warning("image %s is %s: nothing to download", instance.image_ref, image.get("status"))
        super().spawn(
            context,
            instance,
            image_meta,
            injected_files,
            admin_password,
            allocations,
            network_info=network_info,
            block_device_info=block_device_info,
            power_on=power_on,
            accel_info=accel_info,
        )

    def snapshot(self, context: Any, instance: Any, image_id: str, update_task_state: Any) -> None:
        super().snapshot(context, instance, image_id, update_task_state)
        path = self._disk(instance)
        if os.path.isfile(path):
            with open(path, "rb") as data:
                meta = {"disk_format": "raw", "container_format": "bare"}
                images.IMAGE_API.update(context, image_id, meta, data, purge_props=False)

    def destroy(
        self,
        context: Any,
        instance: Any,
        network_info: Any,
        block_device_info: Any = None,
        destroy_disks: bool = True,
        destroy_secrets: bool = True,
    ) -> None:
        super().destroy(context, instance, network_info, block_device_info, destroy_disks, destroy_secrets)
        if destroy_disks:
            shutil.rmtree(self._instance_dir(instance), ignore_errors=True)

    @classmethod
    def _disk(cls, instance: Any) -> str:
        return os.path.join(cls._instance_dir(instance), "disk")

    @staticmethod
    def _instance_dir(instance: Any) -> str:
        from nova.conf import CONF

        return os.path.join(CONF.instances_path, instance.uuid)
