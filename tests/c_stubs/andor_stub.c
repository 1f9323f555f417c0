/* A stand-in for the Andor SDK2 (libandor.so) and ShamrockCIF (libshamrockcif.so) functions tepl's drivers
 * call, with the argument types of atmcdLXd.h and ShamrockCIF.h. Built at test time into a shared library
 * (tests/test_andor_c_stub.py) and loaded through the drivers' own loaders, so the declared ctypes
 * signatures meet a real C calling convention: 32-bit at_32 / at_u32, floats, pointers, a struct. */
#include <string.h>

#ifdef _LP64
#define at_32 int
#define at_u32 unsigned int
#else
#define at_32 long
#define at_u32 unsigned long
#endif

#define DRV_SUCCESS 20002
#define DRV_P1INVALID 20066
#define DRV_P2INVALID 20067
#define DRV_P3INVALID 20068
#define DRV_INIERROR 20070
#define DRV_IDLE 20073
#define DRV_NOT_SUPPORTED 20991
#define DRV_TEMP_OFF 20034
#define SHAMROCK_SUCCESS 20202
#define SHAMROCK_P2INVALID 20267
#define SHAMROCK_P3INVALID 20268
#define NX 1024

typedef struct ANDORCAPS {
    at_u32 ulSize, ulAcqModes, ulReadModes, ulTriggerModes, ulCameraType, ulPixelMode, ulSetFunctions,
        ulGetFunctions, ulFeatures, ulPCICard, ulEMGainCapability, ulFTReadModes;
} AndorCapabilities;

/* what the stub was told, read back by the test through ctypes */
int stub_shutter[4] = {-1, -1, -1, -1};
float stub_exposure_s = -1.0f;
int stub_acq_mode = 0;
char stub_ini_dir[256] = "";

/* ------------------------------------------------------------------ SDK2 */
unsigned int Initialize(char *dir) {
    strncpy(stub_ini_dir, dir, sizeof(stub_ini_dir) - 1);
    return strcmp(dir, "/stub/etc/andor") == 0 ? DRV_SUCCESS : DRV_INIERROR;
}
unsigned int ShutDown(void) { return DRV_SUCCESS; }
unsigned int GetCameraSerialNumber(int *number) { *number = 31415; return DRV_SUCCESS; }
unsigned int GetHeadModel(char *name) { strcpy(name, "DU420_BEX2_DD"); return DRV_SUCCESS; }
unsigned int GetCapabilities(AndorCapabilities *caps) {
    if (caps->ulSize != sizeof(AndorCapabilities)) return DRV_P1INVALID;
    memset(((char *)caps) + sizeof(at_u32), 0, sizeof(AndorCapabilities) - sizeof(at_u32));
    caps->ulFeatures = 8u | 2u | 1u; /* AC_FEATURES_SHUTTER | EVENTS | POLLING */
    caps->ulCameraType = 7u;
    return DRV_SUCCESS;
}
unsigned int GetShutterMinTimes(int *minclosingtime, int *minopeningtime) {
    *minclosingtime = 15; *minopeningtime = 25; return DRV_SUCCESS;
}
unsigned int SetShutter(int typ, int mode, int closingtime, int openingtime) {
    if (mode < 0 || mode > 2) return DRV_P2INVALID;
    if (closingtime < 15) return DRV_P3INVALID;
    stub_shutter[0] = typ; stub_shutter[1] = mode; stub_shutter[2] = closingtime; stub_shutter[3] = openingtime;
    return DRV_SUCCESS;
}
unsigned int GetDetector(int *xpixels, int *ypixels) { *xpixels = NX; *ypixels = 255; return DRV_SUCCESS; }
unsigned int GetPixelSize(float *xSize, float *ySize) { *xSize = 26.0f; *ySize = 26.0f; return DRV_SUCCESS; }
unsigned int GetTemperatureRange(int *mintemp, int *maxtemp) { *mintemp = -100; *maxtemp = 20; return DRV_SUCCESS; }
unsigned int SetTemperature(int temperature) { return temperature < -100 ? DRV_P1INVALID : DRV_SUCCESS; }
unsigned int CoolerON(void) { return DRV_SUCCESS; }
unsigned int CoolerOFF(void) { return DRV_SUCCESS; }
unsigned int IsCoolerOn(int *iCoolerStatus) { *iCoolerStatus = 0; return DRV_SUCCESS; }
unsigned int GetTemperatureF(float *temperature) { *temperature = 21.5f; return DRV_TEMP_OFF; }
unsigned int GetNumberHSSpeeds(int channel, int typ, int *speeds) { *speeds = 2; return DRV_SUCCESS; }
unsigned int GetHSSpeed(int channel, int typ, int index, float *speed) {
    if (index < 0 || index > 1) return DRV_P3INVALID;
    *speed = index == 0 ? 0.1f : 0.05f; return DRV_SUCCESS;
}
unsigned int SetHSSpeed(int typ, int index) { return index < 0 || index > 1 ? DRV_P2INVALID : DRV_SUCCESS; }
unsigned int SetReadMode(int mode) { return mode == 0 ? DRV_SUCCESS : DRV_P1INVALID; }
unsigned int SetTriggerMode(int mode) { return mode == 0 ? DRV_SUCCESS : DRV_P1INVALID; }
unsigned int SetAcquisitionMode(int mode) { stub_acq_mode = mode; return DRV_SUCCESS; }
unsigned int SetExposureTime(float time) { stub_exposure_s = time; return DRV_SUCCESS; }
unsigned int GetAcquisitionTimings(float *exposure, float *accumulate, float *kinetic) {
    *exposure = stub_exposure_s; *accumulate = stub_exposure_s + 0.02f; *kinetic = stub_exposure_s + 0.02f;
    return DRV_SUCCESS;
}
unsigned int StartAcquisition(void) { return DRV_SUCCESS; }
unsigned int GetStatus(int *status) { *status = DRV_IDLE; return DRV_SUCCESS; }
unsigned int WaitForAcquisitionTimeOut(int iTimeOutMs) { return DRV_SUCCESS; }
unsigned int AbortAcquisition(void) { return DRV_IDLE; }
/* negative counts only to show the values arrive as signed 32-bit numbers */
unsigned int GetAcquisitionProgress(at_32 *acc, at_32 *series) { *acc = -2; *series = -3; return DRV_SUCCESS; }
unsigned int GetAcquiredData(at_32 *arr, at_u32 size) {
    if (size != NX) return DRV_P2INVALID;
    for (at_u32 i = 0; i < size; i++) arr[i] = (at_32)i - 5;
    return DRV_SUCCESS;
}

/* ------------------------------------------------------------------ ShamrockCIF */
static float slit_um = 10.0f, wavelength_nm = 0.0f, pixel_um = 0.0f;
static int port = 0, filter = 1, n_pixels = 0;

unsigned int ShamrockInitialize(char *IniPath) { return SHAMROCK_SUCCESS; }
unsigned int ShamrockClose(void) { return SHAMROCK_SUCCESS; }
unsigned int ShamrockGetNumberDevices(int *nodevices) { *nodevices = 1; return SHAMROCK_SUCCESS; }
unsigned int ShamrockGetSerialNumber(int device, char *serial) { strcpy(serial, "KY328i-STUB"); return SHAMROCK_SUCCESS; }
unsigned int ShamrockEepromGetOpticalParams(int device, float *FocalLength, float *AngularDeviation, float *FocalTilt) {
    *FocalLength = 0.328f; *AngularDeviation = 14.0f; *FocalTilt = 0.0f; return SHAMROCK_SUCCESS;
}
unsigned int ShamrockShutterIsPresent(int device, int *present) { *present = 0; return SHAMROCK_SUCCESS; }
unsigned int ShamrockAutoSlitIsPresent(int device, int index, int *present) { *present = index == 2; return SHAMROCK_SUCCESS; }
unsigned int ShamrockGetAutoSlitWidth(int device, int index, float *width) { *width = slit_um; return SHAMROCK_SUCCESS; }
unsigned int ShamrockSetAutoSlitWidth(int device, int index, float width) {
    if (index != 2) return SHAMROCK_P2INVALID;
    if (width < 10.0f || width > 2500.0f) return SHAMROCK_P3INVALID;
    slit_um = width; return SHAMROCK_SUCCESS;
}
unsigned int ShamrockFlipperMirrorIsPresent(int device, int flipper, int *present) { *present = flipper == 2; return SHAMROCK_SUCCESS; }
unsigned int ShamrockGetFlipperMirror(int device, int flipper, int *p) { *p = port; return SHAMROCK_SUCCESS; }
unsigned int ShamrockSetFlipperMirror(int device, int flipper, int p) {
    if (flipper != 2) return SHAMROCK_P2INVALID;
    if (p < 0 || p > 1) return SHAMROCK_P3INVALID;
    port = p; return SHAMROCK_SUCCESS;
}
unsigned int ShamrockFilterIsPresent(int device, int *present) { *present = 1; return SHAMROCK_SUCCESS; }
unsigned int ShamrockGetFilter(int device, int *f) { *f = filter; return SHAMROCK_SUCCESS; }
unsigned int ShamrockSetFilter(int device, int f) {
    if (f < 1 || f > 6) return SHAMROCK_P2INVALID;
    filter = f; return SHAMROCK_SUCCESS;
}
unsigned int ShamrockGetFilterInfo(int device, int f, char *info) { strcpy(info, f == 4 ? "LP 550" : "Empty"); return SHAMROCK_SUCCESS; }
unsigned int ShamrockSetPixelWidth(int device, float Width) { pixel_um = Width; return SHAMROCK_SUCCESS; }
unsigned int ShamrockSetNumberPixels(int device, int NumberPixels) { n_pixels = NumberPixels; return SHAMROCK_SUCCESS; }
unsigned int ShamrockGetNumberGratings(int device, int *noGratings) { *noGratings = 3; return SHAMROCK_SUCCESS; }
unsigned int ShamrockGetGrating(int device, int *grating) { *grating = 1; return SHAMROCK_SUCCESS; }
unsigned int ShamrockGetGratingInfo(int device, int Grating, float *Lines, char *Blaze, int *Home, int *Offset) {
    *Lines = 150.0f; strcpy(Blaze, "800"); *Home = 41000; *Offset = 0; return SHAMROCK_SUCCESS;
}
unsigned int ShamrockGetWavelengthLimits(int device, int Grating, float *Min, float *Max) {
    *Min = 0.0f; *Max = 7590.0f; return SHAMROCK_SUCCESS;
}
unsigned int ShamrockSetWavelength(int device, float wavelength) { wavelength_nm = wavelength; return SHAMROCK_SUCCESS; }
unsigned int ShamrockGetWavelength(int device, float *wavelength) { *wavelength = wavelength_nm; return SHAMROCK_SUCCESS; }
unsigned int ShamrockGetCalibration(int device, float *CalibrationValues, int NumberPixels) {
    for (int i = 0; i < NumberPixels; i++)
        CalibrationValues[i] = wavelength_nm + (i - (NumberPixels - 1) / 2.0f) * pixel_um * 0.02f;
    return SHAMROCK_SUCCESS;
}
