"""The decoders of :mod:`cdi.spec.fastdecode`, made from the schema table.

Do not edit: ``python -m cdi.spec.fastdecode`` writes this file, and a test checks that it
is what the schema makes now. A module, not code compiled at run time, so that a new process
loads the decoders from its bytecode cache instead of compiling them (milliseconds on a
container's start path).
"""
# mypy: ignore-errors
# ruff: noqa

from cdi.spec.fastdecode import generated_namespace

globals().update(generated_namespace())
del generated_namespace


def plain_decode_Spec(value):
    if type(value) is not dict:
        raise Unusual
    s0 = template_Spec.copy()
    for key0, entry0 in value.items():
        if key0 == 'cdiVersion':
            if type(entry0) is not str:
                raise Unusual
            s0['cdi_version'] = entry0
        elif key0 == 'kind':
            if type(entry0) is not str:
                raise Unusual
            s0['kind'] = entry0
        elif key0 == 'annotations':
            s0['annotations'] = string_map(entry0)
        elif key0 == 'devices':
            if type(entry0) is not list:
                raise Unusual
            items0 = []
            for item0 in entry0:
                made0 = plain_decode_Device(item0)
                items0.append(made0)
            s0['devices'] = tuple(items0)
        elif key0 == 'containerEdits':
            item0 = entry0
            made0 = plain_decode_ContainerEdits(item0)
            s0['container_edits'] = made0
        else:
            raise Unusual
    made = new(Spec)
    set_dict_Spec(made, s0)
    return made
def plain_decode_Device(value):
    if type(value) is not dict:
        raise Unusual
    s0 = template_Device.copy()
    for key0, entry0 in value.items():
        if key0 == 'name':
            if type(entry0) is not str:
                raise Unusual
            s0['name'] = entry0
        elif key0 == 'annotations':
            s0['annotations'] = string_map(entry0)
        elif key0 == 'containerEdits':
            item0 = entry0
            made0 = plain_decode_ContainerEdits(item0)
            s0['container_edits'] = made0
        else:
            raise Unusual
    made = new(Device)
    set_dict_Device(made, s0)
    return made
def plain_decode_ContainerEdits(value):
    if type(value) is not dict:
        raise Unusual
    s0 = template_ContainerEdits.copy()
    for key0, entry0 in value.items():
        if key0 == 'env':
            if type(entry0) is not list:
                raise Unusual
            for text0 in entry0:
                if type(text0) is not str:
                    raise Unusual
            s0['env'] = tuple(entry0)
        elif key0 == 'deviceNodes':
            if type(entry0) is not list:
                raise Unusual
            items0 = []
            for item0 in entry0:
                made0 = plain_decode_DeviceNode(item0)
                items0.append(made0)
            s0['device_nodes'] = tuple(items0)
        elif key0 == 'netDevices':
            if type(entry0) is not list:
                raise Unusual
            items0 = []
            for item0 in entry0:
                made0 = plain_decode_LinuxNetDevice(item0)
                items0.append(made0)
            s0['net_devices'] = tuple(items0)
        elif key0 == 'hooks':
            if type(entry0) is not list:
                raise Unusual
            items0 = []
            for item0 in entry0:
                made0 = plain_decode_Hook(item0)
                items0.append(made0)
            s0['hooks'] = tuple(items0)
        elif key0 == 'mounts':
            if type(entry0) is not list:
                raise Unusual
            items0 = []
            for item0 in entry0:
                made0 = plain_decode_Mount(item0)
                items0.append(made0)
            s0['mounts'] = tuple(items0)
        elif key0 == 'intelRdt':
            item0 = entry0
            made0 = plain_decode_IntelRdt(item0)
            s0['intel_rdt'] = made0
        elif key0 == 'additionalGids':
            s0['additional_gids'] = uint32s(entry0)
        else:
            raise Unusual
    made = new(ContainerEdits)
    set_dict_ContainerEdits(made, s0)
    return made
def plain_decode_DeviceNode(value):
    if type(value) is not dict:
        raise Unusual
    s0 = template_DeviceNode.copy()
    for key0, entry0 in value.items():
        if key0 == 'path':
            if type(entry0) is not str:
                raise Unusual
            s0['path'] = entry0
        elif key0 == 'hostPath':
            if type(entry0) is not str:
                raise Unusual
            s0['host_path'] = entry0
        elif key0 == 'type':
            if type(entry0) is not str:
                raise Unusual
            s0['type'] = entry0
        elif key0 == 'major':
            if type(entry0) is not int or not -9223372036854775808 <= entry0 <= 9223372036854775807:
                raise Unusual
            s0['major'] = entry0
        elif key0 == 'minor':
            if type(entry0) is not int or not -9223372036854775808 <= entry0 <= 9223372036854775807:
                raise Unusual
            s0['minor'] = entry0
        elif key0 == 'fileMode':
            if type(entry0) is not int or not 0 <= entry0 <= 4294967295:
                raise Unusual
            s0['file_mode'] = entry0
        elif key0 == 'permissions':
            if type(entry0) is not str:
                raise Unusual
            s0['permissions'] = entry0
        elif key0 == 'uid':
            if type(entry0) is not int or not 0 <= entry0 <= 4294967295:
                raise Unusual
            s0['uid'] = entry0
        elif key0 == 'gid':
            if type(entry0) is not int or not 0 <= entry0 <= 4294967295:
                raise Unusual
            s0['gid'] = entry0
        else:
            raise Unusual
    made = new(DeviceNode)
    set_dict_DeviceNode(made, s0)
    return made
def plain_decode_Mount(value):
    if type(value) is not dict:
        raise Unusual
    s0 = template_Mount.copy()
    for key0, entry0 in value.items():
        if key0 == 'hostPath':
            if type(entry0) is not str:
                raise Unusual
            s0['host_path'] = entry0
        elif key0 == 'containerPath':
            if type(entry0) is not str:
                raise Unusual
            s0['container_path'] = entry0
        elif key0 == 'options':
            if type(entry0) is not list:
                raise Unusual
            for text0 in entry0:
                if type(text0) is not str:
                    raise Unusual
            s0['options'] = tuple(entry0)
        elif key0 == 'type':
            if type(entry0) is not str:
                raise Unusual
            s0['type'] = entry0
        else:
            raise Unusual
    made = new(Mount)
    set_dict_Mount(made, s0)
    return made
def plain_decode_Hook(value):
    if type(value) is not dict:
        raise Unusual
    s0 = template_Hook.copy()
    for key0, entry0 in value.items():
        if key0 == 'hookName':
            if type(entry0) is not str:
                raise Unusual
            s0['hook_name'] = entry0
        elif key0 == 'path':
            if type(entry0) is not str:
                raise Unusual
            s0['path'] = entry0
        elif key0 == 'args':
            if type(entry0) is not list:
                raise Unusual
            for text0 in entry0:
                if type(text0) is not str:
                    raise Unusual
            s0['args'] = tuple(entry0)
        elif key0 == 'env':
            if type(entry0) is not list:
                raise Unusual
            for text0 in entry0:
                if type(text0) is not str:
                    raise Unusual
            s0['env'] = tuple(entry0)
        elif key0 == 'timeout':
            if type(entry0) is not int or not -9223372036854775808 <= entry0 <= 9223372036854775807:
                raise Unusual
            s0['timeout'] = entry0
        else:
            raise Unusual
    made = new(Hook)
    set_dict_Hook(made, s0)
    return made
def plain_decode_IntelRdt(value):
    if type(value) is not dict:
        raise Unusual
    s0 = template_IntelRdt.copy()
    for key0, entry0 in value.items():
        if key0 == 'closID':
            if type(entry0) is not str:
                raise Unusual
            s0['clos_id'] = entry0
        elif key0 == 'l3CacheSchema':
            if type(entry0) is not str:
                raise Unusual
            s0['l3_cache_schema'] = entry0
        elif key0 == 'memBwSchema':
            if type(entry0) is not str:
                raise Unusual
            s0['mem_bw_schema'] = entry0
        elif key0 == 'schemata':
            if type(entry0) is not list:
                raise Unusual
            for text0 in entry0:
                if type(text0) is not str:
                    raise Unusual
            s0['schemata'] = tuple(entry0)
        elif key0 == 'enableMonitoring':
            if type(entry0) is not bool:
                raise Unusual
            s0['enable_monitoring'] = entry0
        else:
            raise Unusual
    made = new(IntelRdt)
    set_dict_IntelRdt(made, s0)
    return made
def plain_decode_LinuxNetDevice(value):
    if type(value) is not dict:
        raise Unusual
    s0 = template_LinuxNetDevice.copy()
    for key0, entry0 in value.items():
        if key0 == 'hostInterfaceName':
            if type(entry0) is not str:
                raise Unusual
            s0['host_interface_name'] = entry0
        elif key0 == 'name':
            if type(entry0) is not str:
                raise Unusual
            s0['name'] = entry0
        else:
            raise Unusual
    made = new(LinuxNetDevice)
    set_dict_LinuxNetDevice(made, s0)
    return made


def checked_decode_Spec(value):
    n = 0
    more = False
    names = set()
    digit_name = False
    if type(value) is not dict:
        raise Unusual
    n += len(value)
    s0 = template_Spec.copy()
    for key0, entry0 in value.items():
        if key0 == 'cdiVersion':
            if type(entry0) is not str:
                raise Unusual
            s0['cdi_version'] = entry0
        elif key0 == 'kind':
            if type(entry0) is not str:
                raise Unusual
            s0['kind'] = entry0
        elif key0 == 'annotations':
            more = True
            s0['annotations'] = string_map(entry0)
            n += len(entry0)
        elif key0 == 'devices':
            if type(entry0) is not list:
                raise Unusual
            items0 = []
            for item0 in entry0:
                if type(item0) is not dict:
                    raise Unusual
                n += len(item0)
                s1 = template_Device.copy()
                for key1, entry1 in item0.items():
                    if key1 == 'name':
                        if type(entry1) is not str:
                            raise Unusual
                        s1['name'] = entry1
                    elif key1 == 'annotations':
                        more = True
                        s1['annotations'] = string_map(entry1)
                        n += len(entry1)
                    elif key1 == 'containerEdits':
                        item1 = entry1
                        made1, keys, more_1 = checked_decode_ContainerEdits(item1)
                        n += keys
                        if more_1:
                            more = True
                        s1['container_edits'] = made1
                    else:
                        raise Unusual
                name = s1['name']
                if name in names:
                    raise Unusual
                if not (name.isascii() and name.isalnum()) and not (
                    name and name[0] in ALPHANUMERICS and name[-1] in ALPHANUMERICS
                    and name.isascii() and (name.isalnum() or (rest := name.replace('-', '')).isalnum() or (rest := rest.replace('.', '')).isalnum() or (rest := rest.replace(':', '')).isalnum() or (rest := rest.replace('_', '')).isalnum())
                ):
                    raise Unusual
                names.add(name)
                if name[0] <= '9':  # a digit, being alphanumeric
                    digit_name = True
                edits = s1['container_edits']
                if not (edits.env or edits.device_nodes or edits.mounts or edits.hooks
                        or edits.net_devices or edits.additional_gids or edits.intel_rdt is not None):
                    raise Unusual
                made0 = new(Device)
                set_dict_Device(made0, s1)
                items0.append(made0)
            s0['devices'] = tuple(items0)
        elif key0 == 'containerEdits':
            item0 = entry0
            made0, keys, more_0 = checked_decode_ContainerEdits(item0)
            n += keys
            if more_0:
                more = True
            s0['container_edits'] = made0
        else:
            raise Unusual
    vendor, _, cls = s0['kind'].partition('/')
    if not (
        s0['devices'] and vendor and cls
        and vendor[0] in LETTERS and vendor[-1] in ALPHANUMERICS
        and cls[0] in LETTERS and cls[-1] in ALPHANUMERICS
        and vendor.isascii() and (vendor.isalnum() or (rest := vendor.replace('-', '')).isalnum() or (rest := rest.replace('.', '')).isalnum() or (rest := rest.replace('_', '')).isalnum())
        and cls.isascii() and (cls.isalnum() or (rest := cls.replace('-', '')).isalnum() or (rest := rest.replace('.', '')).isalnum() or (rest := rest.replace('_', '')).isalnum())
    ):
        raise Unusual
    if not more:
        required = '0.6.0' if '.' in cls else '0.5.0' if digit_name else '0.3.0'
        if s0['cdi_version'] not in DECLARABLE[required]:
            raise Unusual
    made = new(Spec)
    set_dict_Spec(made, s0)
    if more:
        validate(made)
    return made, n
def checked_decode_ContainerEdits(value):
    n = 0
    more = False
    if type(value) is not dict:
        raise Unusual
    n += len(value)
    s0 = template_ContainerEdits.copy()
    for key0, entry0 in value.items():
        if key0 == 'env':
            if type(entry0) is not list:
                raise Unusual
            for text0 in entry0:
                if type(text0) is not str or text0.find('=') <= 0:
                    raise Unusual
            s0['env'] = tuple(entry0)
        elif key0 == 'deviceNodes':
            if type(entry0) is not list:
                raise Unusual
            items0 = []
            for item0 in entry0:
                if type(item0) is not dict:
                    raise Unusual
                n += len(item0)
                s1 = template_DeviceNode.copy()
                for key1, entry1 in item0.items():
                    if key1 == 'path':
                        if type(entry1) is not str:
                            raise Unusual
                        s1['path'] = entry1
                    elif key1 == 'hostPath':
                        if type(entry1) is not str:
                            raise Unusual
                        if entry1:
                            more = True
                        s1['host_path'] = entry1
                    elif key1 == 'type':
                        if type(entry1) is not str:
                            raise Unusual
                        if entry1 not in DEVICE_TYPES:
                            raise Unusual
                        s1['type'] = entry1
                    elif key1 == 'major':
                        if type(entry1) is not int or not -9223372036854775808 <= entry1 <= 9223372036854775807:
                            raise Unusual
                        s1['major'] = entry1
                    elif key1 == 'minor':
                        if type(entry1) is not int or not -9223372036854775808 <= entry1 <= 9223372036854775807:
                            raise Unusual
                        s1['minor'] = entry1
                    elif key1 == 'fileMode':
                        if type(entry1) is not int or not 0 <= entry1 <= 4294967295:
                            raise Unusual
                        s1['file_mode'] = entry1
                    elif key1 == 'permissions':
                        if type(entry1) is not str:
                            raise Unusual
                        if entry1 != 'none' and entry1.strip('rwm'):
                            raise Unusual
                        s1['permissions'] = entry1
                    elif key1 == 'uid':
                        if type(entry1) is not int or not 0 <= entry1 <= 4294967295:
                            raise Unusual
                        s1['uid'] = entry1
                    elif key1 == 'gid':
                        if type(entry1) is not int or not 0 <= entry1 <= 4294967295:
                            raise Unusual
                        s1['gid'] = entry1
                    else:
                        raise Unusual
                if not s1['path']:
                    raise Unusual
                made0 = new(DeviceNode)
                set_dict_DeviceNode(made0, s1)
                items0.append(made0)
            s0['device_nodes'] = tuple(items0)
        elif key0 == 'netDevices':
            more = True
            if type(entry0) is not list:
                raise Unusual
            items0 = []
            for item0 in entry0:
                if type(item0) is not dict:
                    raise Unusual
                n += len(item0)
                s1 = template_LinuxNetDevice.copy()
                for key1, entry1 in item0.items():
                    if key1 == 'hostInterfaceName':
                        if type(entry1) is not str:
                            raise Unusual
                        s1['host_interface_name'] = entry1
                    elif key1 == 'name':
                        if type(entry1) is not str:
                            raise Unusual
                        s1['name'] = entry1
                    else:
                        raise Unusual
                made0 = new(LinuxNetDevice)
                set_dict_LinuxNetDevice(made0, s1)
                items0.append(made0)
            s0['net_devices'] = tuple(items0)
        elif key0 == 'hooks':
            if type(entry0) is not list:
                raise Unusual
            items0 = []
            for item0 in entry0:
                if type(item0) is not dict:
                    raise Unusual
                n += len(item0)
                s1 = template_Hook.copy()
                for key1, entry1 in item0.items():
                    if key1 == 'hookName':
                        if type(entry1) is not str:
                            raise Unusual
                        s1['hook_name'] = entry1
                    elif key1 == 'path':
                        if type(entry1) is not str:
                            raise Unusual
                        s1['path'] = entry1
                    elif key1 == 'args':
                        if type(entry1) is not list:
                            raise Unusual
                        try:
                            ''.join(entry1)
                        except TypeError:
                            raise Unusual from None
                        s1['args'] = tuple(entry1)
                    elif key1 == 'env':
                        if type(entry1) is not list:
                            raise Unusual
                        for text1 in entry1:
                            if type(text1) is not str or text1.find('=') <= 0:
                                raise Unusual
                        s1['env'] = tuple(entry1)
                    elif key1 == 'timeout':
                        if type(entry1) is not int or not -9223372036854775808 <= entry1 <= 9223372036854775807:
                            raise Unusual
                        s1['timeout'] = entry1
                    else:
                        raise Unusual
                if s1['hook_name'] not in HOOK_NAMES or not s1['path']:
                    raise Unusual
                made0 = new(Hook)
                set_dict_Hook(made0, s1)
                items0.append(made0)
            s0['hooks'] = tuple(items0)
        elif key0 == 'mounts':
            if type(entry0) is not list:
                raise Unusual
            items0 = []
            for item0 in entry0:
                if type(item0) is not dict:
                    raise Unusual
                n += len(item0)
                s1 = template_Mount.copy()
                for key1, entry1 in item0.items():
                    if key1 == 'hostPath':
                        if type(entry1) is not str:
                            raise Unusual
                        s1['host_path'] = entry1
                    elif key1 == 'containerPath':
                        if type(entry1) is not str:
                            raise Unusual
                        s1['container_path'] = entry1
                    elif key1 == 'options':
                        if type(entry1) is not list:
                            raise Unusual
                        try:
                            ''.join(entry1)
                        except TypeError:
                            raise Unusual from None
                        s1['options'] = tuple(entry1)
                    elif key1 == 'type':
                        if type(entry1) is not str:
                            raise Unusual
                        if entry1:
                            more = True
                        s1['type'] = entry1
                    else:
                        raise Unusual
                if not s1['host_path'] or not s1['container_path']:
                    raise Unusual
                made0 = new(Mount)
                set_dict_Mount(made0, s1)
                items0.append(made0)
            s0['mounts'] = tuple(items0)
        elif key0 == 'intelRdt':
            more = True
            item0 = entry0
            if type(item0) is not dict:
                raise Unusual
            n += len(item0)
            s1 = template_IntelRdt.copy()
            for key1, entry1 in item0.items():
                if key1 == 'closID':
                    if type(entry1) is not str:
                        raise Unusual
                    s1['clos_id'] = entry1
                elif key1 == 'l3CacheSchema':
                    if type(entry1) is not str:
                        raise Unusual
                    s1['l3_cache_schema'] = entry1
                elif key1 == 'memBwSchema':
                    if type(entry1) is not str:
                        raise Unusual
                    s1['mem_bw_schema'] = entry1
                elif key1 == 'schemata':
                    if type(entry1) is not list:
                        raise Unusual
                    try:
                        ''.join(entry1)
                    except TypeError:
                        raise Unusual from None
                    s1['schemata'] = tuple(entry1)
                elif key1 == 'enableMonitoring':
                    if type(entry1) is not bool:
                        raise Unusual
                    s1['enable_monitoring'] = entry1
                else:
                    raise Unusual
            made0 = new(IntelRdt)
            set_dict_IntelRdt(made0, s1)
            s0['intel_rdt'] = made0
        elif key0 == 'additionalGids':
            more = True
            s0['additional_gids'] = uint32s(entry0)
        else:
            raise Unusual
    made = new(ContainerEdits)
    set_dict_ContainerEdits(made, s0)
    return made, n, more
