// Scaleboard's Azure infrastructure, deployed into one resource group:
//   - a storage account with the queues and containers both binaries use;
//   - an AKS cluster with the KEDA add-on, the OIDC issuer and workload identity, a system pool
//     and a `compute` user pool that the cluster autoscaler grows and shrinks with the workers;
//   - a container registry the cluster pulls from;
//   - three user-assigned identities, each federated with one Kubernetes service account and
//     given only the storage access it uses: the server and the workers read and write queues
//     and blobs, KEDA only reads the work queue's length;
//   - Event Grid: BlobCreated in the `output` container -> the `item-events` queue.
//
//   az deployment group create -g RG -f deploy/infra/main.bicep -p deploy/infra/main.bicepparam
//
// Walk-through: docs/deploy-aks.md.

targetScope = 'resourceGroup'

@description('Region of every resource.')
param location string = resourceGroup().location

@description('Prefix of the resource names (cluster, identity, event topic).')
@minLength(3)
@maxLength(20)
param namePrefix string = 'scaleboard'

@description('Globally unique storage account name: 3-24 lowercase letters and digits.')
@minLength(3)
@maxLength(24)
param storageAccountName string = 'sb${uniqueString(resourceGroup().id)}'

@description('Globally unique registry name: 5-50 letters and digits.')
@minLength(5)
@maxLength(50)
param registryName string = 'sbacr${uniqueString(resourceGroup().id)}'

@description('Kubernetes version; empty for the region\'s default.')
param kubernetesVersion string = ''

@description('VM size of the system pool (cluster add-ons, KEDA, the Scaleboard server).')
param systemVmSize string = 'Standard_D4s_v3'

@description('Nodes in the system pool.')
@minValue(1)
param systemNodeCount int = 1

@description('VM size of the compute pool. Each worker requests 1 CPU / 4 GiB; a D8s_v3 (8 vCPU, 32 GiB) holds about six.')
param computeVmSize string = 'Standard_D8s_v3'

@description('Fewest compute nodes the cluster autoscaler keeps.')
@minValue(0)
param computeMinCount int = 1

@description('Most compute nodes the cluster autoscaler adds. 20 workers (maxReplicaCount) need about four D8s_v3 nodes.')
@minValue(1)
param computeMaxCount int = 5

@description('Kubernetes namespace of the Scaleboard service accounts (the overlays use `scaleboard`).')
param workloadNamespace string = 'scaleboard'

@description('Namespace of the KEDA operator whose service account `keda-operator` reads the queue length: `kube-system` for the AKS KEDA add-on this template enables, `keda` for a Helm install.')
param kedaNamespace string = 'kube-system'

@description('Allow shared-key (account key, connection string) access to the storage account. Needed only by the connection-string overlay; the aks overlay uses Entra ID.')
param allowSharedKeyAccess bool = false

@description('Object id of a user or group to grant data access to the storage account, e.g. for `az storage ... --auth-mode login` (az ad signed-in-user show --query id -o tsv). Empty for none.')
param operatorPrincipalId string = ''

@description('Principal type of operatorPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'User'

// Names the binaries use (storage/src/names.rs) and the Kubernetes manifests refer to.
var workQueueName = 'work-items'
var eventsQueueName = 'item-events'
var poisonQueueName = 'work-items-poison'
var eventsPoisonQueueName = 'item-events-poison'
var queueNames = [
  workQueueName
  eventsQueueName
  poisonQueueName
  eventsPoisonQueueName
]
var outputContainerName = 'output'
var containerNames = [
  'input'
  outputContainerName
  'orchestrations'
]

// Built-in role definitions.
var roles = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageQueueDataReader: '19e7f393-937e-4f77-808e-94535e297925'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
}
var dataRoles = [
  roles.storageQueueDataContributor
  roles.storageBlobDataContributor
]

// ---------------------------------------------------------------------------------------------
// Storage

resource storage 'Microsoft.Storage/storageAccounts@2023-01-01' = {
  name: storageAccountName
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: allowSharedKeyAccess
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-01-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-01-01' = [for name in queueNames: {
  parent: queueService
  name: name
}]

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-01-01' = {
  parent: storage
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-01-01' = [for name in containerNames: {
  parent: blobService
  name: name
  properties: {
    publicAccess: 'None'
  }
}]

// ---------------------------------------------------------------------------------------------
// Registry

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: registryName
  location: location
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false
  }
}

// ---------------------------------------------------------------------------------------------
// AKS

resource cluster 'Microsoft.ContainerService/managedClusters@2024-02-01' = {
  name: '${namePrefix}-aks'
  location: location
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    kubernetesVersion: empty(kubernetesVersion) ? null : kubernetesVersion
    dnsPrefix: '${namePrefix}-aks'
    enableRBAC: true
    agentPoolProfiles: [
      {
        name: 'system'
        mode: 'System'
        type: 'VirtualMachineScaleSets'
        osType: 'Linux'
        vmSize: systemVmSize
        count: systemNodeCount
      }
      {
        // AKS labels these nodes `agentpool=compute`: the worker's nodeSelector and the server's
        // SCALEBOARD_NODE_SELECTOR.
        name: 'compute'
        mode: 'User'
        type: 'VirtualMachineScaleSets'
        osType: 'Linux'
        vmSize: computeVmSize
        enableAutoScaling: true
        count: computeMinCount
        minCount: computeMinCount
        maxCount: computeMaxCount
      }
    ]
    // Shorter than the defaults (10 min) so that a run's scale-down shows within a few minutes.
    autoScalerProfile: {
      'scan-interval': '10s'
      'scale-down-delay-after-add': '3m'
      'scale-down-unneeded-time': '3m'
    }
    networkProfile: {
      networkPlugin: 'azure'
      networkPluginMode: 'overlay'
      // Cilium enforces the overlays' NetworkPolicies (without a policy engine they are ignored).
      networkDataplane: 'cilium'
      networkPolicy: 'cilium'
      loadBalancerSku: 'standard'
    }
    oidcIssuerProfile: {
      enabled: true
    }
    securityProfile: {
      workloadIdentity: {
        enabled: true
      }
    }
    workloadAutoScalerProfile: {
      keda: {
        enabled: true
      }
    }
  }
}

resource kubeletAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, cluster.id, roles.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
    principalId: cluster.properties.identityProfile.kubeletidentity.objectId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------------------------------------
// Workload identities: one per service account, so that a compromised worker cannot act as the
// server and KEDA cannot write. Each federated credential accepts only its service account's
// tokens from this cluster's OIDC issuer.
//
// The server and the workers get the data roles on the account rather than on single queues and
// containers: both create any missing queue or container at start-up (ensure_resources in
// storage/src/client.rs), which a role on an existing container or queue cannot allow, and
// between them they use every queue and container.

resource serverIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-server'
  location: location
}

resource serverFederatedCredential 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: serverIdentity
  name: 'scaleboard-server'
  properties: {
    issuer: cluster.properties.oidcIssuerProfile.issuerURL
    subject: 'system:serviceaccount:${workloadNamespace}:scaleboard-server'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

resource serverStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in dataRoles: {
  name: guid(storage.id, serverIdentity.id, role)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: serverIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}]

resource workerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-worker'
  location: location
}

resource workerFederatedCredential 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: workerIdentity
  name: 'scaleboard-worker'
  properties: {
    issuer: cluster.properties.oidcIssuerProfile.issuerURL
    subject: 'system:serviceaccount:${workloadNamespace}:scaleboard-worker'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

resource workerStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in dataRoles: {
  name: guid(storage.id, workerIdentity.id, role)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: workerIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}]

// KEDA's operator authenticates as this identity (TriggerAuthentication `identityId`) only to
// read the length of `work-items`: Queue Data Reader on that queue and nothing else.
resource kedaIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-keda'
  location: location
}

resource kedaFederatedCredential 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: kedaIdentity
  name: 'keda-operator'
  properties: {
    issuer: cluster.properties.oidcIssuerProfile.issuerURL
    subject: 'system:serviceaccount:${kedaNamespace}:keda-operator'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

resource workQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-01-01' existing = {
  parent: queueService
  name: workQueueName
}

resource kedaQueueReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, workQueueName, kedaIdentity.id, roles.storageQueueDataReader)
  scope: workQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataReader)
    principalId: kedaIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
  dependsOn: [
    queues
  ]
}

resource operatorStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in (empty(operatorPrincipalId) ? [] : dataRoles): {
  name: guid(storage.id, operatorPrincipalId, role)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}]

// ---------------------------------------------------------------------------------------------
// Event Grid: BlobCreated for output/... -> queue `item-events`, in the Event Grid schema.
// Delivered with the system topic's own identity, so it works with shared keys disabled.

resource eventsQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-01-01' existing = {
  parent: queueService
  name: eventsQueueName
}

resource storageEvents 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: '${namePrefix}-storage-events'
  location: location
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource eventsQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, eventsQueueName, storageEvents.id, roles.storageQueueDataMessageSender)
  scope: eventsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: storageEvents.identity.principalId
    principalType: 'ServicePrincipal'
  }
  dependsOn: [
    queues
  ]
}

resource outputBlobCreated 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: storageEvents
  name: 'output-blob-created'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${outputContainerName}/'
    }
    deliveryWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      destination: {
        endpointType: 'StorageQueue'
        properties: {
          resourceId: storage.id
          queueName: eventsQueueName
        }
      }
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
  dependsOn: [
    eventsQueueSender
    containers
  ]
}

// ---------------------------------------------------------------------------------------------
// What the Kubernetes overlays and the walk-through need.

output clusterName string = cluster.name
output registryName string = registry.name
output registryLoginServer string = registry.properties.loginServer
output storageAccountName string = storage.name
output serverIdentityClientId string = serverIdentity.properties.clientId
output workerIdentityClientId string = workerIdentity.properties.clientId
output kedaIdentityClientId string = kedaIdentity.properties.clientId
output tenantId string = subscription().tenantId
output oidcIssuerUrl string = cluster.properties.oidcIssuerProfile.issuerURL
