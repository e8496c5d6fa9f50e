// Example parameters for main.bicep. Copy and adjust, then
//   az deployment group create -g RG -f deploy/infra/main.bicep -p deploy/infra/main.bicepparam
using './main.bicep'

param location = 'westeurope'
param namePrefix = 'scaleboard'

// Compute pool: each worker requests 1 CPU / 4 GiB, so a Standard_D8s_v3 (8 vCPU, 32 GiB,
// about 27 GiB allocatable) holds about six workers. The ScaledObject allows 20 workers, which
// need four nodes. Starting from one node, a run of 1,000 items makes the cluster autoscaler add
// three, and about three minutes after the queue drains they go again. (The original demo kept
// 5-100 nodes: 30 workers fit on the first five, so its node count never moved.)
// Needs 8 x computeMaxCount vCPUs of DSv3 quota in the region (az vm list-usage -l REGION).
param computeVmSize = 'Standard_D8s_v3'
param computeMinCount = 1
param computeMaxCount = 5

param systemVmSize = 'Standard_D4s_v3'
param systemNodeCount = 1

// The aks overlay uses Entra ID; set true only for the connection-string overlay.
param allowSharedKeyAccess = false

// Your object id, to read queues and blobs with `az storage ... --auth-mode login`.
param operatorPrincipalId = ''
