"""The Andor SDK2 header as the iDus driver uses it (atmcdLXd.h / atmcd32d.h): return codes and their names,
the 32-bit ``at_32`` types, the ``AndorCapabilities`` struct and the argument types of the functions called."""

from __future__ import annotations

import ctypes

from tepl.drivers.ctypes_lib import CHAR_P, FLOAT, INT, P_FLOAT, P_INT

DRV_SUCCESS = 20002
DRV_NO_NEW_DATA = 20024
DRV_ACQUIRING = 20072
DRV_IDLE = 20073
DRV_TEMP_CODES = (20034, 20035, 20036, 20037, 20040)

SDK2_CODES = {
    20001: "DRV_ERROR_CODES", 20002: "DRV_SUCCESS", 20003: "DRV_VXDNOTINSTALLED", 20013: "DRV_ERROR_ACK",
    20022: "DRV_KINETIC_TIME_NOT_MET", 20023: "DRV_ACCUM_TIME_NOT_MET", 20024: "DRV_NO_NEW_DATA",
    20026: "DRV_SPOOLERROR", 20034: "DRV_TEMP_OFF", 20035: "DRV_TEMP_NOT_STABILIZED",
    20036: "DRV_TEMP_STABILIZED", 20037: "DRV_TEMP_NOT_REACHED", 20038: "DRV_TEMP_OUT_RANGE",
    20039: "DRV_TEMP_NOT_SUPPORTED", 20040: "DRV_TEMP_DRIFT", 20064: "DRV_DATATYPE",
    20066: "DRV_P1INVALID", 20067: "DRV_P2INVALID", 20068: "DRV_P3INVALID", 20069: "DRV_P4INVALID",
    20070: "DRV_INIERROR", 20072: "DRV_ACQUIRING", 20073: "DRV_IDLE", 20074: "DRV_TEMPCYCLE",
    20075: "DRV_NOT_INITIALIZED", 20076: "DRV_P5INVALID", 20077: "DRV_P6INVALID", 20078: "DRV_INVALID_MODE",
    20089: "DRV_USBERROR", 20099: "DRV_BINNING_ERROR", 20100: "DRV_INVALID_AMPLIFIER",
    20990: "DRV_ERROR_NOCAMERA", 20991: "DRV_NOT_SUPPORTED", 20992: "DRV_NOT_AVAILABLE",
}

# GetTemperature's return value is the thermal status; these are the words the roles use.
TEMPERATURE_STATUS = {20034: "off", 20035: "not_stabilized", 20036: "stabilized", 20037: "not_reached",
                      20040: "drift"}

# ``at_32`` / ``at_u32`` of the headers: 32-bit on every platform. atmcdLXd.h defines them as ``int`` /
# ``unsigned int`` under _LP64 (C ``long`` is 64-bit there); atmcd32d.h as Windows ``long`` (32-bit).
AT_32, AT_U32 = ctypes.c_int32, ctypes.c_uint32
P_AT_32 = ctypes.POINTER(AT_32)

# GetCapabilities: AndorCapabilities.ulFeatures bits (atmcd32d.h / atmcdLXd.h)
AC_FEATURES_SHUTTER = 8  # the camera's shutter is controlled with SetShutter
AC_FEATURES_SHUTTEREX = 16  # ... and with SetShutterEx (internal and external shutter apart)


class AndorCapabilities(ctypes.Structure):
    """``AndorCapabilities`` of atmcdLXd.h: twelve ``at_u32``; ``ulSize`` must hold the struct's size."""

    _fields_ = [(name, AT_U32) for name in (
        "ulSize", "ulAcqModes", "ulReadModes", "ulTriggerModes", "ulCameraType", "ulPixelMode", "ulSetFunctions",
        "ulGetFunctions", "ulFeatures", "ulPCICard", "ulEMGainCapability", "ulFTReadModes")]


# Argument types of the SDK2 functions this driver calls (atmcdLXd.h / atmcd32d.h); all return unsigned int.
SDK2_SIGNATURES: dict[str, list] = {
    "Initialize": [CHAR_P], "ShutDown": [],
    "GetCameraSerialNumber": [P_INT], "GetHeadModel": [CHAR_P],
    "GetDetector": [P_INT, P_INT], "GetPixelSize": [P_FLOAT, P_FLOAT],
    "GetTemperatureRange": [P_INT, P_INT], "SetTemperature": [INT], "CoolerON": [], "CoolerOFF": [],
    "IsCoolerOn": [P_INT], "GetTemperature": [P_INT], "GetTemperatureF": [P_FLOAT],
    "SetReadMode": [INT], "SetAcquisitionMode": [INT], "SetTriggerMode": [INT], "SetExposureTime": [FLOAT],
    "SetNumberAccumulations": [INT], "SetAccumulationCycleTime": [FLOAT], "SetNumberKinetics": [INT],
    "SetKineticCycleTime": [FLOAT], "GetAcquisitionTimings": [P_FLOAT, P_FLOAT, P_FLOAT],
    "GetReadOutTime": [P_FLOAT],
    "GetCapabilities": [ctypes.POINTER(AndorCapabilities)], "GetShutterMinTimes": [P_INT, P_INT],
    "SetShutter": [INT, INT, INT, INT],
    "GetNumberHSSpeeds": [INT, INT, P_INT], "GetHSSpeed": [INT, INT, INT, P_FLOAT], "SetHSSpeed": [INT, INT],
    "StartAcquisition": [], "GetStatus": [P_INT], "WaitForAcquisition": [], "WaitForAcquisitionTimeOut": [INT],
    "AbortAcquisition": [], "GetAcquisitionProgress": [P_AT_32, P_AT_32],
    "GetAcquiredData": [P_AT_32, AT_U32],
    "GetAcquiredData16": [ctypes.POINTER(ctypes.c_uint16), AT_U32],
    "GetMostRecentImage": [P_AT_32, AT_U32],
}
